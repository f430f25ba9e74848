"""The three adapters' public surface, compared so that drift fails CI: the hyperparameters Layca owns (names
from ``layca_core.engine.RATE_NAMES``, defaults from ``layca_core.defaults``), the default rates their docstrings
state, and the methods of every ``RotationMonitor``.
"""

import inspect
import re

import pytest

from layca_core import defaults, engine

pytest.importorskip("torch")
pytest.importorskip("optax")

import layca_keras  # noqa: E402
import layca_optax  # noqa: E402
import layca_torch  # noqa: E402

OPTIMIZERS = {"layca_torch": layca_torch.Layca, "layca_optax": layca_optax.layca, "layca_keras": layca_keras.Layca}
WRAPPERS = {
    "layca_torch": layca_torch.LaycaWrapper,
    "layca_optax": layca_optax.scale_by_layca,
    "layca_keras": layca_keras.LaycaWrapper,
}
SHARED = {
    "base": defaults.BASE, "alpha": defaults.ALPHA, "variant": "layca", "freeze_others": False, "layers": None,
    "include": (), "log_layers": False, "weight_decay": defaults.WEIGHT_DECAY,
}  # fmt: skip
"""The options every Layca optimizer takes, with their defaults (the rates are in ``RATE_NAMES``)."""
MONITOR_METHODS = ("record", "distances", "history", "plot", "state_dict", "load_state_dict")


def parameters(function):
    return inspect.signature(function.__init__ if inspect.isclass(function) else function).parameters


@pytest.mark.parametrize(("adapter", "name"), [(a, n) for a in OPTIMIZERS for n in SHARED])
def test_every_optimizer_takes_the_shared_options_with_the_core_defaults(adapter, name):
    found = parameters(OPTIMIZERS[adapter])
    assert name in found, f"{adapter} has no {name}="
    assert found[name].default == SHARED[name]


@pytest.mark.parametrize("adapter", OPTIMIZERS)
def test_the_rates_have_the_adapters_names_and_default_to_the_bases_rate(adapter):
    rate, other = engine.RATE_NAMES[adapter]
    found = parameters(OPTIMIZERS[adapter])
    assert found[rate].default is None  # the base's rate, layca_core.default_rate(base)
    assert found[other].default is None  # the rate itself


@pytest.mark.parametrize("adapter", WRAPPERS)
def test_the_wrappers_default_rates_are_the_ones_their_docstrings_state(adapter):
    rate, _ = engine.RATE_NAMES[adapter]
    default = parameters(WRAPPERS[adapter])[rate].default
    assert default in (defaults.RATE, defaults.ADAPTIVE_RATE)
    assert documented_rates(WRAPPERS[adapter].__doc__, rate)[:1] == [default]


def documented_rates(doc, rate):
    """The rates (``3^-k`` or ``3**-k``) that the docstring's sentence on ``rate``'s default names, in order."""
    sentence = re.search(rf"\b{rate}\b[^.]*?\bdefaults?\b[^.]*\.", doc or "")
    assert sentence, f"the docstring does not state {rate}'s default"
    return [3.0 ** -int(k) for k in re.findall(r"3(?:\^|\*\*)-(\d+)", sentence.group())]


@pytest.mark.parametrize(("adapter", "method"), [(a, m) for a in OPTIMIZERS for m in MONITOR_METHODS])
def test_every_rotation_monitor_has_the_same_methods(adapter, method):
    package = {"layca_torch": layca_torch, "layca_optax": layca_optax, "layca_keras": layca_keras}[adapter]
    monitor = package.RotationMonitor
    if method == "history":  # an attribute set by the constructor: documented on the class
        assert "history" in (monitor.__doc__ or "") + inspect.getsource(monitor.__init__)
    else:
        assert callable(getattr(monitor, method, None)), f"{adapter}.RotationMonitor has no {method}()"

"""The three adapters expose the same choices with the same defaults, all taken from layca_core."""

import inspect
import math
import os
import re

import numpy as np
import pytest

import layca_core
from layca_core import defaults

torch = pytest.importorskip("torch")
optax = pytest.importorskip("optax")

import keras  # noqa: E402

import layca_keras  # noqa: E402
import layca_optax  # noqa: E402
import layca_torch  # noqa: E402

SHARED = {"base": defaults.BASE, "alpha": defaults.ALPHA, "variant": "layca", "freeze_others": False}


def defaults_of(function) -> dict:
    return {
        n: p.default
        for n, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize(
    "function",
    [layca_torch.Layca.__init__, layca_optax.layca, layca_keras.Layca.__init__],
    ids=["torch", "optax", "keras"],
)
def test_same_hyperparameters_and_defaults(function):
    found = defaults_of(function)
    assert {k: found[k] for k in SHARED} == SHARED
    rate_name = "lr" if "lr" in found else "learning_rate"
    assert found[rate_name] is None  # resolved by layca_core.default_rate(base)
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(function).parameters.values())


@pytest.mark.parametrize("base", sorted(layca_core.DIRECTIONS))
def test_every_core_base_and_its_default_rate_reach_every_adapter(base):
    model = torch.nn.Linear(3, 2)
    assert layca_torch.Layca(model.parameters(), base=base).defaults["lr"] == layca_core.default_rate(base)
    keras_rate = layca_keras.Layca(base=base).learning_rate
    assert float(keras.ops.convert_to_numpy(keras_rate)) == pytest.approx(layca_core.default_rate(base))
    w = torch.randn(4, 3, dtype=torch.float64).numpy()
    optimizer = layca_optax.layca(base=base)
    updates, _ = optimizer.update({"w": w[::-1].copy()}, optimizer.init({"w": w}), {"w": w})
    angle = float(layca_core.step_angle(w, w + np.asarray(updates["w"])))
    assert angle == pytest.approx(math.atan(layca_core.default_rate(base)), rel=1e-4)


def documented_hyperparameters() -> dict[str, list[tuple[set[str], set[str]]]]:
    """docs/idioms.md's table of base hyperparameters: per framework, (core names, framework names) per row."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "idioms.md")) as page:
        table = page.read().split("<!-- hyperparameter-table -->")[1].split("<!-- end -->")[0]
    rows = [
        [set(re.findall(r"`(\w+)`", cell)) for cell in line.split("|")[1:-1]] for line in table.strip().splitlines()[2:]
    ]
    return {framework: [(row[0], row[i]) for row in rows] for i, framework in enumerate(("torch", "optax", "keras"), 1)}


@pytest.mark.parametrize("framework", ["torch", "optax", "keras"])
def test_the_documented_hyperparameter_names_are_the_adapters(framework):
    names = {"torch": layca_torch, "optax": layca_optax, "keras": layca_keras}[framework].HYPERPARAMETER_NAMES
    words: dict[str, set[str]] = {}
    for word, core in names.items():
        for name in core if isinstance(core, tuple) else (core,):
            words.setdefault(name, set()).add(word)
    rows = documented_hyperparameters()[framework]
    assert sorted(c for core, _ in rows for c in core) == sorted(words)
    for core, documented in rows:
        assert set().union(*(words[c] for c in core)) == documented, core


@pytest.mark.parametrize("adapter", [layca_torch, layca_optax, layca_keras], ids=["torch", "optax", "keras"])
def test_one_vocabulary_for_what_is_layca_own(adapter):
    """``docs/idioms.md``: layer selection is ``layers=`` everywhere, every monitor is a ``RotationMonitor``."""
    selectors = {
        layca_torch: [layca_torch.layca_param_groups, layca_torch.RotationMonitor, layca_torch.LaycaWrapper],
        layca_optax: [layca_optax.layca, layca_optax.scale_by_layca, layca_optax.RotationMonitor],
        layca_keras: [layca_keras.Layca, layca_keras.LaycaWrapper, layca_keras.RotationMonitor],
    }[adapter]
    assert all("layers" in inspect.signature(f).parameters for f in selectors)
    for method in ("distances", "plot", "state_dict", "load_state_dict"):
        assert callable(getattr(adapter.RotationMonitor, method))

"""The Optax adapter's surface: default rates (signatures, docstrings, angles turned), Optax's words for the
base hyperparameters, values checked where concrete, and complex leaves."""

import inspect
import math
import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_core  # noqa: E402
import layca_optax  # noqa: E402
from tests.layca_optax.test_optax_idioms import BASE_NUMBERS, grads_like, make_params  # noqa: E402


def test_scale_by_layca_default_rate_is_the_documented_one():
    """Signature and docstring name the same default: 3^-3, ``layca_core.defaults.RATE``."""
    default = inspect.signature(layca_optax.scale_by_layca).parameters["learning_rate"].default
    doc = inspect.getdoc(layca_optax.scale_by_layca)
    match = re.search(r"learning_rate:.*?default\s+3\^-(\d+)\s+\(``(\w+)`` of ``layca_core\.defaults``\)", doc, re.S)
    assert match, "scale_by_layca's docstring must state learning_rate's default"
    assert default == getattr(layca_core.defaults, match[2]) == 3.0 ** -int(match[1]) == layca_core.defaults.RATE
    params = {"w": jax.random.normal(jax.random.key(0), (5, 4))}
    grads = {"w": jax.random.normal(jax.random.key(1), (5, 4))}
    updates, _ = layca_optax.scale_by_layca().update(grads, layca_optax.scale_by_layca().init(params), params)
    turned = optax.apply_updates(params, updates)["w"]
    assert float(layca_core.step_angle(params["w"], turned)) == pytest.approx(math.atan(3**-3), rel=1e-4)


@pytest.mark.parametrize("base", list(layca_core.DIRECTIONS))
def test_layca_default_rate_is_the_documented_one(base):
    """``layca``'s docstring: ``learning_rate`` None is 3**-3, or 3**-5 for ``adam`` and ``amom``."""
    assert "3**-3, or 3**-5 for ``adam`` and ``amom``" in inspect.getdoc(layca_optax.layca)
    rate = 3**-5 if base in ("adam", "amom") else 3**-3
    params = {"w": jax.random.normal(jax.random.key(0), (5, 4))}
    grads = {"w": jax.random.normal(jax.random.key(1), (5, 4))}
    optimizer = layca_optax.layca(base=base)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    turned = optax.apply_updates(params, updates)["w"]
    assert float(layca_core.step_angle(params["w"], turned)) == pytest.approx(math.atan(rate), rel=1e-4)


def test_injected_values_are_checked_where_concrete():
    params = make_params()
    with pytest.raises(ValueError, match="alpha must lie strictly between -1 and 1"):
        optax.inject_hyperparams(layca_optax.layca)(learning_rate=0.1, alpha=1.5).init(params)
    with pytest.raises(ValueError, match="0 <= decay < 1; got decay="):
        optax.inject_hyperparams(layca_optax.layca)(base="rmsprop", decay=1.5).init(params)
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        optax.inject_hyperparams(layca_optax.scale_by_layca)(learning_rate=-1.0).init(params)


@pytest.mark.parametrize("base", list(BASE_NUMBERS))
def test_complex_leaves_that_are_not_layers_take_the_base_step(base):
    """Optax's optimizers accept complex parameters; Layca rotates real layers only (a rotation on the
    sphere of a real weight tensor), so a complex leaf must be a non-layer, and takes ``-other_rate * s``
    with real ``|g|^2`` accumulators. Adam is compared with ``optax.adam``; a complex layer is refused."""
    numbers = {k: v for k, v in BASE_NUMBERS[base].items() if k != "initial_accumulator_value"}
    optimizer = layca_optax.layca(0.2, base, other_learning_rate=0.05, **numbers)
    params = {"w": make_params()["head"], "c": jnp.asarray([1 + 2j, -0.5j, 3.0], jnp.complex64)}
    state = optimizer.init(params)
    assert all(not jnp.iscomplexobj(leaf) for leaf in jax.tree.leaves(state) if jnp.shape(leaf) != (3,))
    grads = [{"w": grads_like(params["w"], t), "c": jnp.asarray([0.3 - 1j, 2j, -1.0 + 0.1j]) * (t + 1)} for t in (0, 1)]
    for g in grads:
        updates, state = optimizer.update(g, state, params)
        assert updates["c"].dtype == jnp.complex64 and bool(jnp.isfinite(updates["c"]).all())
    accumulators = [leaf["c"] for leaf in state.base_state if isinstance(leaf, dict)][1:] if base == "adam" else []
    accumulators += [state.base_state.accumulator["c"]] if base in ("rmsprop", "adagrad") else []
    assert all(a.dtype == jnp.float32 and bool((a > 0).all()) for a in accumulators)
    if base == "adam":
        reference = optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-6)
        reference_state = reference.init(params["c"])
        for g in grads:
            want, reference_state = reference.update(g["c"], reference_state)
        np.testing.assert_allclose(np.asarray(updates["c"]), np.asarray(want), rtol=1e-5)
    with pytest.raises(ValueError, match=r"\['c'\] is complex: leave it out of `layers`"):
        layca_optax.layca(0.2, base).init({"w": params["w"], "c": jnp.ones((2, 2), jnp.complex64)})


def test_core_names_are_refused_with_optax_words():
    with pytest.raises(TypeError, match="calls 'rho' 'decay': pass decay="):
        layca_optax.layca(base="rmsprop", rho=0.9)
    with pytest.raises(TypeError, match="pass initial_accumulator_value="):
        layca_optax.layca(base="adagrad", initial_accumulator=0.1)
    with pytest.raises(TypeError, match="Base 'rmsprop' takes decay, eps; got momentum"):
        layca_optax.layca(base="rmsprop", momentum=0.9)
    with pytest.raises(TypeError, match="unexpected keyword argument 'betas'"):
        layca_optax.layca(base="adam", betas=(0.9, 0.99))
    core_names = {name for factory in layca_core.DIRECTIONS.values() for name in inspect.signature(factory).parameters}
    assert set(layca_optax.HYPERPARAMETER_NAMES.values()) == core_names

"""Hyperparameters and alpha as 0-d arrays (as ``optax.inject_hyperparams`` passes them), and complex leaves."""

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import to_numpy
from layca_core.engine import LayerPlan
from tests.base_values import NON_DEFAULT

VALUES = NON_DEFAULT


@pytest.mark.parametrize("name", sorted(VALUES))
def test_0d_array_hyperparameters_give_the_number_steps(backend_wide_dtype, rng, name):
    backend, dtype = backend_wide_dtype
    as_arrays = {key: backend.asarray(np.asarray(value), dtype) for key, value in VALUES[name].items()}
    grads = [backend.asarray(rng.standard_normal((3, 4)), dtype) for _ in range(3)]
    numbers, arrays = layca_core.direction(name, **VALUES[name]), layca_core.direction(name, **as_arrays)
    state_n, state_a = numbers.init(grads[0]), arrays.init(grads[0])
    for g in grads:
        (step_n, state_n), (step_a, state_a) = numbers.update(g, state_n), arrays.update(g, state_a)
        rtol = {"float64": 1e-12}.get(dtype, 1e-5)
        atol = rtol * np.abs(to_numpy(step_n)).max() if name == "muon" else 0  # Newton-Schulz mixes the entries
        np.testing.assert_allclose(to_numpy(step_a), to_numpy(step_n), rtol=rtol, atol=atol)
        assert [field.dtype for field in state_a] == [field.dtype for field in state_n]


def test_concrete_array_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"needs 0 <= momentum < 1; got momentum=array\(1.5\)"):
        layca_core.direction("momentum", momentum=np.asarray(1.5))
    with pytest.raises(ValueError, match="needs eps > 0"):
        layca_core.direction("adam", eps="small")
    with pytest.raises(ValueError, match="needs 0 <= decay < 1; got decay=1.5"):
        layca_core.direction("rmsprop", spelling={"rho": "decay"}, rho=1.5)
    with pytest.raises(ValueError, match="alpha must lie strictly between -1 and 1"):
        LayerPlan.from_flags([True, True], np.asarray(-1.0))
    with pytest.raises(ValueError, match="alpha must lie strictly between -1 and 1"):
        LayerPlan.from_flags([True, True], "0.5")


@pytest.mark.parametrize("alpha", [-0.5, 0.0, 0.3])
@pytest.mark.parametrize("count", [1, 4])
def test_plan_from_a_0d_array_alpha_matches_the_number_plan(alpha, count):
    want = LayerPlan.from_flags([True] * count + [False], alpha).multipliers
    got = LayerPlan.from_flags([True] * count + [False], np.asarray(alpha)).multipliers
    assert got[-1] is None
    np.testing.assert_allclose([float(m) for m in got[:-1]], want[:-1], rtol=1e-12)


def test_traced_alpha_and_hyperparameters_pass_through_jit():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    @jax.jit
    def multipliers_and_step(alpha, momentum, g, m):
        plan = LayerPlan.from_flags([True, True, True], alpha)
        step, _ = layca_core.direction("momentum", momentum=momentum).update(g, layca_core.directions.MomentumState(m))
        return jnp.stack(plan.multipliers), step

    g, m = jnp.ones(3, jnp.bfloat16), jnp.full(3, 2.0, jnp.bfloat16)
    multipliers, step = multipliers_and_step(jnp.float32(0.5), jnp.float32(0.25), g, m)
    np.testing.assert_allclose(np.asarray(multipliers), layca_core.alpha_multipliers(3, 0.5), rtol=1e-6)
    assert step.dtype == jnp.bfloat16 and float(step[0]) == 1.5


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad"])
def test_complex_gradients_accumulate_abs_squared_in_a_real_accumulator(name):
    g = np.asarray([1 + 2j, -3j, 0.5])
    base = layca_core.direction(name, **VALUES[name])
    state = base.init(np.zeros_like(g))
    step, state = base.update(g, state)
    accumulator = state.nu if name == "adam" else state.accumulator
    squares = np.abs(g) ** 2
    h = VALUES[name]
    if name == "adagrad":
        want = h["initial_accumulator"] + squares
    else:
        want = (1 - h["b2" if name == "adam" else "rho"]) * squares
    assert not np.iscomplexobj(accumulator)
    np.testing.assert_allclose(accumulator, want, rtol=1e-12)
    assert np.iscomplexobj(step) and np.isfinite(step).all()

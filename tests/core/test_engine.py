"""The step engine: exact for every finite step, on every backend, executor and adapter path.

A step's scale is discarded by Layca, so a step whose entries lie anywhere from the dtype's
smallest normal number to its largest finite one must turn the layer by arctan(rate) and keep
its norm; only a step with no orthogonal part beyond round-off may leave the layer unmoved.
"""

import math

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import Backend, to_numpy
from layca_core import engine
from layca_core.engine.reference import ReferenceExecutor

RATE = 0.1
ANGLE_TOLERANCE = {"float64": 1e-12, "float32": 2e-6, "float16": 5e-3, "bfloat16": 3e-2}
FINFO = {
    "float64": np.finfo(np.float64),
    "float32": np.finfo(np.float32),
    "float16": np.finfo(np.float16),
    "bfloat16": None,  # same exponent range as float32
}


def magnitudes(dtype: str) -> list[float]:
    """Powers of ten from the smallest normal number to the largest finite one, ends included."""
    info = FINFO[dtype] or FINFO["float32"]
    low, high = math.log10(float(info.smallest_normal)), math.log10(float(info.max))
    exponents = np.linspace(low, high, 9)
    return [float(info.smallest_normal) * 4, *[10.0**e for e in exponents[1:-1]], float(info.max) / 4]


def step_of(magnitude: float, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A random step whose largest entry is ``magnitude`` (so the cast to the dtype stays finite)."""
    g = np.random.default_rng(1000 + seed).standard_normal(shape)
    return g / np.abs(g).max() * magnitude


def check_turn(before: np.ndarray, after: np.ndarray, dtype: str, rate: float = RATE) -> None:
    assert np.isfinite(after).all()
    angle = float(layca_core.step_angle(before, after))
    assert angle == pytest.approx(math.atan(rate), rel=ANGLE_TOLERANCE[dtype])
    assert np.linalg.norm(after) == pytest.approx(np.linalg.norm(before), rel=ANGLE_TOLERANCE[dtype])


@pytest.fixture
def weights():
    return np.random.default_rng(0).standard_normal((24, 16))


@pytest.mark.parametrize("variant", ["layca", "lars"])
def test_every_magnitude_turns_on_every_backend(backend_dtype, weights, variant):
    backend, dtype = backend_dtype
    w = backend.asarray(weights, dtype)
    w64, norm = to_numpy(w), layca_core.initial_norm(w)
    for index, magnitude in enumerate(magnitudes(dtype)):
        s = backend.asarray(step_of(magnitude, weights.shape, index), dtype)
        new = to_numpy(layca_core.layca_steps([w], [s], RATE, [norm], variant=variant)[0])
        if variant == "layca":
            check_turn(w64, new, dtype)
        else:
            assert np.isfinite(new).all() and not np.array_equal(new, w64), magnitude


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_jitted_step_is_exact_at_every_magnitude(dtype):
    """Under ``jax.jit`` without x64 the sums accumulate in float32: the two-pass recipe."""
    jax = pytest.importorskip("jax")
    weights = np.random.default_rng(0).standard_normal((24, 16))
    w = Backend.JAX.asarray(weights, dtype)
    step = jax.jit(lambda w, s, norm: layca_core.layca_step(w, s, RATE, norm))
    norm = layca_core.initial_norm(w)
    for index, magnitude in enumerate(magnitudes(dtype)):
        s = Backend.JAX.asarray(step_of(magnitude, weights.shape, index), dtype)
        check_turn(to_numpy(w), to_numpy(step(w, s, norm)), dtype)


def test_zero_parallel_and_non_finite_steps_leave_the_layer_or_ignore_the_entries(backend_dtype, weights):
    backend, dtype = backend_dtype
    w = backend.asarray(weights, dtype)
    norm = layca_core.initial_norm(w)
    for still in (np.zeros_like(weights), 3.0 * to_numpy(w)):
        new = to_numpy(layca_core.layca_step(w, backend.asarray(still, dtype), RATE, norm))
        np.testing.assert_array_equal(new, to_numpy(w))
    step = step_of(1.0, weights.shape, 1)
    step[0, :3] = [np.nan, np.inf, -np.inf]
    new = to_numpy(layca_core.layca_step(w, backend.asarray(step, dtype), RATE, norm))
    check_turn(to_numpy(w), new, dtype)


def test_negative_or_non_finite_array_rates_do_not_move_the_layer():
    w, s = np.random.default_rng(0).standard_normal((2, 6, 5))
    executor = ReferenceExecutor(np, w).prepare([w, w, w])
    rates = np.array([-0.1, np.nan, np.inf])
    new = engine.turn_layers([w, w, w], [s, s, s], rates, np.full(3, np.linalg.norm(w)), executor=executor)
    for x in new:
        np.testing.assert_array_equal(x, w)


def test_stacked_layers_are_reduced_per_slice(weights):
    stack = np.stack([weights, 2 * weights, -weights])
    steps = np.stack([step_of(10.0**e, weights.shape, e) for e in (-300, 0, 300)])
    executor = ReferenceExecutor(np, stack, [True]).prepare([stack])
    norms = np.linalg.norm(stack.reshape(3, -1), axis=1)
    rates = np.array([0.1, 0.2, 0.3])
    (new,) = engine.turn_layers([stack], [steps], rates, norms, executor=executor)
    for i in range(3):
        check_turn(stack[i], new[i], "float64", rates[i])

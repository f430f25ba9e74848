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
from layca_conformance.reference import hyperball_angle
from layca_core import engine
from layca_core.engine.policy import build_executor
from layca_core.engine.reference import ReferenceExecutor, per_layer

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


def normal_step_of(magnitude: float, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A random step whose entries all lie in ``[magnitude / 2, magnitude)`` in absolute value: no subnormal entry,
    which some backends flush to zero (the hyperball angle depends on the step's direction, Layca's does not)."""
    g = np.random.default_rng(1000 + seed).standard_normal(shape)
    return np.sign(g) * (1 + np.abs(g) / np.abs(g).max()) / 2 * magnitude * (1 - 2**-10)


def check_turn(before: np.ndarray, after: np.ndarray, dtype: str, rate: float = RATE, step=None) -> None:
    """Turned by ``arctan(rate)`` (Layca), or by the hyperball angle of ``step``, with the norm kept."""
    assert np.isfinite(after).all()
    angle = float(layca_core.step_angle(before, after))
    turned = math.atan(rate) if step is None else hyperball_angle(before, step.astype(np.float64), rate)
    assert angle == pytest.approx(turned, rel=ANGLE_TOLERANCE[dtype])
    assert np.linalg.norm(after) == pytest.approx(np.linalg.norm(before), rel=ANGLE_TOLERANCE[dtype])


@pytest.fixture
def weights():
    return np.random.default_rng(0).standard_normal((24, 16))


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
def test_every_magnitude_turns_on_every_backend(backend_dtype, weights, variant):
    backend, dtype = backend_dtype
    w = backend.asarray(weights, dtype)
    w64, norm = to_numpy(w), layca_core.initial_norm(w)
    make = normal_step_of if variant == "hyperball" else step_of
    for index, magnitude in enumerate(magnitudes(dtype)):
        s = backend.asarray(make(magnitude, weights.shape, index), dtype)
        new = to_numpy(layca_core.layca_steps([w], [s], RATE, [norm], variant=variant)[0])
        if variant != "lars":
            check_turn(w64, new, dtype, step=None if variant == "layca" else to_numpy(s))
        else:
            assert np.isfinite(new).all() and not np.array_equal(new, w64), magnitude


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16", "float16"])
@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
def test_torch_executor_matches_the_reference_at_every_magnitude(dtype, variant):
    torch = pytest.importorskip("torch")
    layers = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate([(24, 16), (3, 3, 2, 5)])]
    ws = [Backend.TORCH.asarray(x, dtype) for x in layers]
    rates = [RATE, 0.5 * RATE]
    make = normal_step_of if variant == "hyperball" else step_of
    for index, magnitude in enumerate(magnitudes(dtype)):
        steps = [Backend.TORCH.asarray(make(magnitude, x.shape, index), dtype) for x in layers]
        turned = {}
        for multi_tensor in (True, False):
            name = "multi_tensor" if multi_tensor else "reference"
            executor = build_executor(name, layca_core.array_namespace(ws[0]), ws)
            norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
            new = engine.turn_layers(
                list(ws), [s.clone() for s in steps], executor.vector(rates), norms, executor=executor, variant=variant
            )
            turned[multi_tensor] = [to_numpy(x) for x in new]
        for fast, expected, w, s, rate in zip(turned[True], turned[False], ws, steps, rates):
            scale = float(np.abs(expected).max())
            np.testing.assert_allclose(fast, expected, rtol=0, atol=4 * ANGLE_TOLERANCE[dtype] * scale)
            if variant != "lars":
                check_turn(to_numpy(w), fast, dtype, rate, step=None if variant == "layca" else to_numpy(s))
        assert torch.equal(ws[0], Backend.TORCH.asarray(layers[0], dtype)), "the pure executor wrote its input"


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


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_the_in_place_torch_executor_matches_the_reference_on_mixed_layers(dtype, monkeypatch):
    """An optimizer's own step: non-finite entries in one layer only, one step far out of range among steps in it
    (on the CPU the executor then cleans one layer and scales every step with a pass of its own); a large layer
    reduced in several blocks of rows."""
    torch = pytest.importorskip("torch")
    from layca_core.torch_executors import multi_tensor

    monkeypatch.setattr(multi_tensor, "BLOCK_ROWS", 1)
    shapes = [(24, 16), (300, 140), (3, 3, 2, 5), (7,)]
    layers = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate(shapes)]
    steps = [step_of(magnitude, x.shape, i) for i, (x, magnitude) in enumerate(zip(layers, [1.0, 3e-3, 1e30, 50.0]))]
    steps[1][0, :3] = [np.nan, np.inf, -np.inf]
    for far in (True, False):
        steps[2] = step_of(1e30 if far else 2.0, shapes[2], 2)
        turned = {}
        for in_place in (True, False):
            ws = [Backend.TORCH.asarray(x, dtype).clone() for x in layers]
            xp = layca_core.array_namespace(ws[0])
            executor = build_executor("multi_tensor" if in_place else "reference", xp, ws, in_place=in_place)
            norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
            given = [Backend.TORCH.asarray(s, dtype) for s in steps]
            before = [s.clone() for s in given]
            rates = executor.vector([RATE] * len(ws))
            turned[in_place] = [to_numpy(x) for x in engine.turn_layers(ws, given, rates, norms, executor=executor)]
            if in_place:  # on the CPU the steps are read, never written: a base may pass its state as its step
                assert executor.writes_steps is False
                for s, b in zip(given, before):
                    torch.testing.assert_close(s, b, rtol=0, atol=0, equal_nan=True)
        for fast, reference, w in zip(turned[True], turned[False], layers):
            np.testing.assert_allclose(
                fast, reference, rtol=0, atol=4 * ANGLE_TOLERANCE[dtype] * np.abs(reference).max()
            )
            check_turn(to_numpy(Backend.TORCH.asarray(w, dtype)), fast, dtype)

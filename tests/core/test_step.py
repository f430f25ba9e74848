"""The Layca step's invariants (the paper's Algorithm 1; docs/algorithm.md) on every backend and dtype.

Tolerances: the inputs are already in the tested dtype, so the only errors are the rounding
of the output to that dtype (half an ulp per entry: at most ``eps`` in angle and relative
norm) and the accumulation in float32/float64; a factor of 8 covers both for these sizes.
"""

import math

import numpy as np
import pytest

import layca_core
from layca_conformance import reference
from layca_conformance.backends import to_numpy

RATES = (3.0**-3, 3.0**-7, 1.0, 9.0)


def eps(dtype: str) -> float:
    return {"bfloat16": 2.0**-7}.get(dtype) or float(np.finfo(dtype).eps)


def angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two arrays, in float64, without acos's loss near 0."""
    u, v = a.ravel() / np.linalg.norm(a), b.ravel() / np.linalg.norm(b)
    return 2 * math.asin(min(np.linalg.norm(u - v) / 2, 1.0))


@pytest.fixture
def layer(backend_dtype, rng):
    """A conv-shaped layer and a step, in the backend and dtype under test, plus NumPy copies."""
    backend, dtype = backend_dtype
    w = backend.asarray(rng.standard_normal((4, 3, 3, 3)), dtype)
    s = backend.asarray(rng.standard_normal((4, 3, 3, 3)), dtype)
    return backend, dtype, w, s


@pytest.mark.parametrize("rate", RATES)
def test_angle_is_arctan_of_rate(layer, rate):
    backend, dtype, w, s = layer
    new = layca_core.layca_step(w, s, rate, layca_core.initial_norm(w))
    assert angle(to_numpy(w), to_numpy(new)) == pytest.approx(math.atan(rate), abs=8 * eps(dtype))


def test_norm_goes_back_to_the_stored_initial_norm(layer):
    backend, dtype, w, s = layer
    new = layca_core.layca_step(w, s, 0.1, 2.5)
    assert np.linalg.norm(to_numpy(new)) == pytest.approx(2.5, rel=8 * eps(dtype))


def test_keeps_dtype_and_shape(layer):
    backend, dtype, w, s = layer
    new = layca_core.layca_step(w, s, 0.1, layca_core.initial_norm(w))
    assert new.dtype == w.dtype and tuple(new.shape) == tuple(w.shape)


def test_scale_equivariance(layer):
    backend, dtype, w, s = layer
    norm = layca_core.initial_norm(w)
    new = to_numpy(layca_core.layca_step(w, s, 0.2, norm))
    scaled = to_numpy(layca_core.layca_step(w * 4, s, 0.2, norm * 4))
    np.testing.assert_allclose(scaled, 4 * new, rtol=0, atol=8 * eps(dtype) * np.abs(4 * new).max())


def test_zero_step_leaves_the_layer_exactly_as_it_was(layer):
    backend, dtype, w, s = layer
    new = layca_core.layca_step(w, s * 0, 0.1, layca_core.initial_norm(w))
    np.testing.assert_array_equal(to_numpy(new), to_numpy(w))


def test_step_parallel_to_the_weights_leaves_the_layer_as_it_was(layer):
    backend, dtype, w, s = layer
    new = layca_core.layca_step(w, w * 3, 0.1, layca_core.initial_norm(w))
    np.testing.assert_array_equal(to_numpy(new), to_numpy(w))


def test_component_along_the_weights_is_ignored(layer):
    """Weight decay (a step component along w) is a no-op under Layca."""
    backend, dtype, w, s = layer
    norm = layca_core.initial_norm(w)
    plain = to_numpy(layca_core.layca_step(w, s, 0.1, norm))
    decayed = to_numpy(layca_core.layca_step(w, s + w * 0.5, 0.1, norm))
    np.testing.assert_allclose(decayed, plain, atol=16 * eps(dtype) * np.abs(plain).max())


def test_non_finite_step_entries_never_reach_the_weights(layer, rng):
    backend, dtype, w, s = layer
    bad = rng.standard_normal(tuple(s.shape))
    bad[0, 0, 0, 0], bad[1, 0, 0, 0], bad[2, 0, 0, 0] = np.nan, np.inf, -np.inf
    new = to_numpy(layca_core.layca_step(w, backend.asarray(bad, dtype), 0.1, layca_core.initial_norm(w)))
    assert np.isfinite(new).all()
    assert angle(to_numpy(w), new) == pytest.approx(math.atan(0.1), abs=8 * eps(dtype))


def test_all_nan_step_leaves_the_layer_as_it_was(layer):
    backend, dtype, w, s = layer
    nan = backend.asarray(np.full(tuple(s.shape), np.nan), dtype)
    new = layca_core.layca_step(w, nan, 0.1, layca_core.initial_norm(w))
    np.testing.assert_array_equal(to_numpy(new), to_numpy(w))


def test_zero_norm_layer_is_left_unchanged_without_nan(layer):
    backend, dtype, w, s = layer
    new = to_numpy(layca_core.layca_step(w * 0, s, 0.1, 1.0))
    np.testing.assert_array_equal(new, np.zeros_like(new))


def test_zero_rate_keeps_the_direction(layer):
    backend, dtype, w, s = layer
    new = to_numpy(layca_core.layca_step(w, s, 0.0, layca_core.initial_norm(w)))
    np.testing.assert_allclose(new, to_numpy(w), atol=4 * eps(dtype) * np.abs(to_numpy(w)).max())


def test_list_form_matches_single_layers(layer, rng):
    backend, dtype, w, s = layer
    dense = backend.asarray(rng.standard_normal((5, 7)), dtype)
    norms = [layca_core.initial_norm(w), layca_core.initial_norm(dense)]
    together = layca_core.layca_steps([w, dense], [s, dense * 0 + 1], [0.1, 0.3], norms)
    alone = [layca_core.layca_step(w, s, 0.1, norms[0]), layca_core.layca_step(dense, dense * 0 + 1, 0.3, norms[1])]
    for a, b in zip(together, alone):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_rate_as_a_zero_d_array(layer):
    backend, dtype, w, s = layer
    rate = backend.asarray(np.array(0.5), "float32")
    new = layca_core.layca_step(w, s, rate, layca_core.initial_norm(w))
    assert angle(to_numpy(w), to_numpy(new)) == pytest.approx(math.atan(0.5), abs=8 * eps(dtype))


def test_lars_turns_without_projection_and_caps_norm_growth(layer):
    backend, dtype, w, s = layer
    w64, s64, r0 = to_numpy(w), to_numpy(s), 1.7
    norm = np.linalg.norm(w64)
    expected = w64 - 0.1 * norm * s64 / np.linalg.norm(s64)
    cap = norm + 1e-4 * r0
    expected *= min(1.0, cap / np.linalg.norm(expected))
    new = to_numpy(layca_core.lars_step(w, s, 0.1, r0))
    np.testing.assert_allclose(new, expected, atol=8 * eps(dtype) * np.abs(expected).max())
    assert np.linalg.norm(new) <= cap * (1 + 8 * eps(dtype))


def test_lars_zero_step_leaves_the_layer_as_it_was(layer):
    backend, dtype, w, s = layer
    new = layca_core.lars_step(w, s * 0, 0.1, 1.0)
    np.testing.assert_array_equal(to_numpy(new), to_numpy(w))


def step_at_angle(w: np.ndarray, other: np.ndarray, theta: float) -> np.ndarray:
    """A step at the angle ``theta`` to ``w``: ``cos(theta) w_hat + sin(theta) u``, ``u`` a unit vector orthogonal
    to ``w`` built from ``other``."""
    w_hat = w / np.linalg.norm(w)
    u = other - np.vdot(other, w_hat) * w_hat
    return math.cos(theta) * w_hat + math.sin(theta) * u / np.linalg.norm(u)


@pytest.mark.parametrize("rate", (3.0**-3, 0.5, 1.0, 3.0))
@pytest.mark.parametrize("degrees", (20, 90, 160))
def test_hyperball_turns_by_atan2_of_rate_sin_and_one_minus_rate_cos(layer, rate, degrees):
    """The hyperball rule turns ``w`` by ``atan2(rate sin(theta), 1 - rate cos(theta))``, theta the angle between the
    step and ``w`` (docs/algorithm.md): Layca's ``arctan(rate)`` at 90 degrees."""
    backend, dtype, w, s = layer
    w64 = to_numpy(w)
    theta = math.radians(degrees)
    step = backend.asarray(step_at_angle(w64, to_numpy(s), theta), dtype)
    r0 = 1.7
    new = to_numpy(layca_core.layca_steps([w], [step], rate, [r0], variant="hyperball")[0])
    expected = math.atan2(rate * math.sin(theta), 1 - rate * math.cos(theta))
    # w - rho |w| s_hat rounds each entry against parts (1 + rho) times |w|: relative to |w'|, that is ``sharp``
    sharp = (1 + rate) / math.sqrt(1 - 2 * rate * math.cos(theta) + rate * rate)
    assert angle(w64, new) == pytest.approx(expected, abs=8 * sharp * eps(dtype))
    assert np.linalg.norm(new) == pytest.approx(r0, rel=8 * sharp * eps(dtype))
    if degrees == 90:
        assert angle(w64, new) == pytest.approx(math.atan(rate), abs=8 * eps(dtype))
    want = reference.hyperball_update(w64, to_numpy(step).astype(np.float64), rate, r0)
    np.testing.assert_allclose(new, want, atol=8 * sharp * eps(dtype) * np.abs(want).max())


def test_hyperball_leaves_a_layer_with_a_zero_step_or_a_vanishing_w_prime(layer):
    backend, dtype, w, s = layer
    np.testing.assert_array_equal(
        to_numpy(layca_core.layca_steps([w], [s * 0], 0.3, [1.0], variant="hyperball")[0]), to_numpy(w)
    )
    along = layca_core.layca_steps([w], [w], 1.0, [1.0], variant="hyperball")[0]  # w' = w - w = 0: no direction
    np.testing.assert_array_equal(to_numpy(along), to_numpy(w))
    back = to_numpy(layca_core.layca_steps([w], [w], 3.0, [2.0], variant="hyperball")[0])  # w' = -2 w: turned round
    np.testing.assert_allclose(back, -2.0 * to_numpy(w) / np.linalg.norm(to_numpy(w)), atol=8 * eps(dtype))

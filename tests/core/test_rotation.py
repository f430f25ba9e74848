"""The rotation metric: cosine distance to init, per-step angle, on every backend."""

import math

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import to_numpy


def test_distance_to_itself_opposite_and_orthogonal(backend_dtype, rng):
    backend, dtype = backend_dtype
    w = rng.standard_normal((6, 5))
    other = rng.standard_normal((6, 5))
    orthogonal = other - (np.sum(other * w) / np.sum(w * w)) * w
    distance = lambda a: float(
        to_numpy(layca_core.cosine_distance(backend.asarray(a, dtype), backend.asarray(w, dtype)))
    )  # noqa: E731
    assert distance(w) == 0.0
    assert distance(-w) == pytest.approx(2.0)
    assert distance(orthogonal) == pytest.approx(1.0, abs={"float64": 1e-12}.get(dtype, 0.02))
    assert distance(3 * w) == pytest.approx(0.0, abs={"float64": 1e-15, "float32": 1e-7}.get(dtype, 1e-3))


def test_small_rotations_are_accurate_in_float32(backend):
    """1 - cos would round a 1e-4 radian turn to 0 in float32; the metric keeps 3 digits."""
    theta = 1e-4
    w0 = np.array([1.0, 0.0, 0.0])
    w = np.array([math.cos(theta), math.sin(theta), 0.0])
    got = float(to_numpy(layca_core.cosine_distance(backend.asarray(w, "float32"), backend.asarray(w0, "float32"))))
    assert got == pytest.approx(1 - math.cos(theta), rel=1e-3)


def test_step_angle_of_a_layca_step_is_arctan_rate(backend, rng):
    w = backend.asarray(rng.standard_normal((8, 3)), "float32")
    new = layca_core.layca_step(w, backend.asarray(rng.standard_normal((8, 3)), "float32"), 0.5, 1.0)
    assert float(to_numpy(layca_core.step_angle(w, new))) == pytest.approx(math.atan(0.5), rel=1e-5)


@pytest.mark.parametrize("exponent", [-1, 1])
def test_step_angle_and_distance_hold_from_the_smallest_normal_to_the_largest_finite_layer(backend_dtype, exponent):
    """A layer scaled to the dtype's extremes (squares that under- or overflow) rotates by the same angle."""
    backend, dtype = backend_dtype
    info = np.finfo({"float64": np.float64, "float16": np.float16}.get(dtype, np.float32))  # bfloat16: float32's range
    scale = float(info.smallest_normal) * 2**24 if exponent < 0 else float(info.max) / 8
    theta = 0.25
    w = np.array([1.0, 0.0, 0.5])
    new = np.array([math.cos(theta), math.sin(theta), 0.5])
    new *= np.linalg.norm(w) / np.linalg.norm(new)
    expected = float(layca_core.step_angle(w, new))
    as_array = lambda a: backend.asarray(a * scale, dtype)  # noqa: E731
    got = float(to_numpy(layca_core.step_angle(as_array(w), as_array(new))))
    assert got == pytest.approx(expected, rel=1e-2 if dtype in ("bfloat16", "float16") else 1e-5)
    distance = float(to_numpy(layca_core.cosine_distance(as_array(new), as_array(w))))
    assert distance == pytest.approx(float(layca_core.cosine_distance(new, w)), rel=3e-2)


def test_rate_from_cosine_distance_inverts_the_step():
    for rate in (3**-7, 3**-3, 1.0, 9.0):
        distance = 1 - 1 / math.sqrt(1 + rate**2)
        assert layca_core.rate_from_cosine_distance(distance) == pytest.approx(rate, rel=1e-6)
    assert layca_core.rate_from_cosine_distance(-1e-17) == 0.0
    with pytest.raises(ValueError, match="must be below 1"):
        layca_core.rate_from_cosine_distance(1.0)


def test_layer_rotations_checks_lengths(rng):
    w = [rng.standard_normal(3)]
    with pytest.raises(ValueError, match="weights has 1, inits has 2"):
        layca_core.layer_rotations(w, w * 2)

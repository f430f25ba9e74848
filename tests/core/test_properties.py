"""Property-based checks of the Layca step over random shapes, rates, scales and seeds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layca_core
from layca_conformance.backends import Backend, to_numpy

TOLERANCE = {"float64": 1e-12, "float32": 2e-6}
CASES = [pytest.param(b, d, id=f"{b.value}-{d}") for b in (Backend.NUMPY, Backend.TORCH) for d in TOLERANCE]
shapes = st.lists(st.integers(1, 9), min_size=1, max_size=4).filter(lambda s: math.prod(s) >= 2)
rates = st.floats(0.0, 20.0)
seeds = st.integers(0, 2**32 - 1)


def unit_angle(a: np.ndarray, b: np.ndarray) -> float:
    u, v = a.ravel() / np.linalg.norm(a), b.ravel() / np.linalg.norm(b)
    return 2 * math.asin(min(np.linalg.norm(u - v) / 2, 1.0))


def draw(backend, dtype, shape, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    w, s = scale * rng.standard_normal(shape), rng.standard_normal(shape)
    return backend.asarray(w, dtype), backend.asarray(s, dtype)


@pytest.mark.parametrize(("backend", "dtype"), CASES)
@settings(max_examples=60, deadline=None)
@given(shape=shapes, rate=rates, seed=seeds, scale=st.floats(1e-3, 1e3))
def test_turns_by_arctan_rate_onto_the_initial_sphere(backend, dtype, shape, rate, seed, scale):
    backend.require()
    w, s = draw(backend, dtype, shape, seed, scale)
    norm = float(to_numpy(layca_core.initial_norm(w)))
    new = to_numpy(layca_core.layca_step(w, s, rate, norm))
    w64, s64 = to_numpy(w), to_numpy(s)
    s_perp = s64 - (np.sum(s64 * w64) / np.sum(w64 * w64)) * w64
    if np.linalg.norm(s_perp) <= 1e-3 * np.linalg.norm(s64):  # (nearly) parallel: allowed to stay
        return
    assert unit_angle(w64, new) == pytest.approx(math.atan(rate), abs=8 * TOLERANCE[dtype])
    assert np.linalg.norm(new) == pytest.approx(norm, rel=8 * TOLERANCE[dtype])


@pytest.mark.parametrize(("backend", "dtype"), CASES)
@settings(max_examples=40, deadline=None)
@given(shape=shapes, rate=rates, seed=seeds, scale=st.floats(0.01, 100.0))
def test_scale_equivariance(backend, dtype, shape, rate, seed, scale):
    backend.require()
    w, s = draw(backend, dtype, shape, seed)
    norm = layca_core.initial_norm(w)
    base = to_numpy(layca_core.layca_step(w, s, rate, norm))
    scaled = to_numpy(layca_core.layca_step(w * scale, s, rate, norm * scale))
    np.testing.assert_allclose(scaled, scale * base, atol=16 * TOLERANCE[dtype] * scale * np.abs(base).max())


@pytest.mark.parametrize(("backend", "dtype"), CASES)
@settings(max_examples=40, deadline=None)
@given(shape=shapes, rate=rates, seed=seeds, bad=st.sampled_from([np.nan, np.inf, -np.inf]), frac=st.floats(0, 1))
def test_no_nan_ever_reaches_the_weights(backend, dtype, shape, rate, seed, bad, frac):
    backend.require()
    w, s = draw(backend, dtype, shape, seed)
    s64 = to_numpy(s)
    s64.ravel()[: int(frac * s64.size)] = bad
    new = to_numpy(layca_core.layca_step(w, backend.asarray(s64, dtype), rate, layca_core.initial_norm(w)))
    assert np.isfinite(new).all()


@pytest.mark.parametrize(("backend", "dtype"), CASES)
@settings(max_examples=30, deadline=None)
@given(shape=shapes, rate=rates, seed=seeds)
def test_zero_gradient_leaves_weights_unchanged(backend, dtype, shape, rate, seed):
    backend.require()
    w, s = draw(backend, dtype, shape, seed)
    new = layca_core.layca_step(w, s * 0, rate, layca_core.initial_norm(w))
    np.testing.assert_array_equal(to_numpy(new), to_numpy(w))

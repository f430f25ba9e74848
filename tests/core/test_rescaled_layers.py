"""The engine on a layer whose weights lie far from their stored norm, so far that their squares under- or overflow
the dtype the sums accumulate in: it turns the layer and puts it back on the stored norm, as at the layer's own scale,
in every recipe (one pass, two passes, screened with sums in the layer's dtype, as XLA's without float64); the initial norm of such a layer is its norm."""

import numpy as np
import pytest

import layca_core.step
from layca_core.engine import ReferenceExecutor, turn_layers

RATE, NORM = 0.1, 3.0
RECIPES = {"one pass": ("float32", 1), "two passes": ("float64", 10), "screened": ("float32", 1)}
"""recipe -> (the layer's dtype, the power the scale is raised to: float64 reaches 1e-300 and 1e300)."""


def turn(w: np.ndarray, step: np.ndarray, recipe: str, variant: str) -> np.ndarray:
    executor = ReferenceExecutor(np, w).prepare([w])
    if recipe == "screened":
        executor.acc, executor.exact_products, executor.screens = np.float32, False, True
    rates, norms = executor.vector([RATE]), executor.vector([NORM])
    return turn_layers([w], [step.copy()], rates, norms, executor=executor, variant=variant)[0]


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e20, 1e30])
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_a_rescaled_layer_turns_as_at_its_own_scale(recipe, scale, variant):
    dtype, power = RECIPES[recipe]
    rng = np.random.default_rng(0)
    w, step = rng.standard_normal((4, 3, 2)).astype(dtype), rng.standard_normal((4, 3, 2)).astype(dtype)
    scale = scale**power
    scaled = (w.astype(np.float64) * scale).astype(dtype)
    new = turn(scaled, step, recipe, variant).astype(np.float64)
    expected = turn(w, step, recipe, variant).astype(np.float64)
    assert np.isfinite(new).all() and not np.array_equal(new, scaled)
    if variant == "lars":  # LARS keeps the layer's scale (its growth cap does not scale): the same direction
        new, expected = (x / np.abs(x).max() for x in (new, expected))
    else:
        assert np.linalg.norm(new) == pytest.approx(NORM, rel=1e-5)
    np.testing.assert_allclose(new, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize(
    ("dtype", "scale"), [("float32", 1e-30), ("float32", 1e30), ("float64", 1e-200), ("float64", 1e300)]
)
@pytest.mark.parametrize("sums", ["float64", "float32"])
def test_the_initial_norm_of_a_rescaled_layer_is_its_norm_not_an_underflow(dtype, scale, sums, monkeypatch):
    """Summed in float32 (as JAX without x64 sums a float32 layer) or in float64, the squares of 1e-30 (float32) or
    1e-200 (float64) entries underflow: the norm is taken of the layer scaled near 1, then scaled back."""
    if sums == "float32" and dtype == "float64":
        pytest.skip("a float64 layer's squares accumulate in float64")
    monkeypatch.setattr(layca_core.step, "ReferenceExecutor", summing_in(np.dtype(sums).type))
    w = np.random.default_rng(1).standard_normal((4, 3, 2))
    norm = layca_core.initial_norm((w * scale).astype(dtype))
    assert norm.dtype == np.dtype(dtype)
    assert float(norm) == pytest.approx(np.linalg.norm(w) * scale, rel=1e-6 if dtype == "float32" else 1e-14, abs=0)


def summing_in(acc):
    """The reference executor with its per-layer sums in ``acc``."""

    class Executor(ReferenceExecutor):
        def __init__(self, xp, like, stacked=None):
            super().__init__(xp, like, stacked)
            self.acc = acc

    return Executor

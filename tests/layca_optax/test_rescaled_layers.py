"""A layer rescaled far from its stored norm, so far that its squares under- or overflow float32 (flushed to zero on
XLA's CPU), is turned and put back on that norm as the same layer near it is: eager and jitted, Adam and momentum."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import layca_core  # noqa: E402
import layca_optax  # noqa: E402

SCALES = [1e-30, 1e-20, 1e20, 1e30]


def tree(seed):
    keys = jax.random.split(jax.random.key(seed), 2)
    return {"w": jax.random.normal(keys[0], (6, 4)), "v": jax.random.normal(keys[1], (4, 3, 2))}


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("base", ["momentum", "adam"])
def test_a_rescaled_layer_is_turned_back_onto_its_stored_norm(base, jit):
    params, optimizer = tree(0), layca_optax.layca(0.1, base)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    _, state = update(tree(10), optimizer.init(params), params)  # stores the norms
    stored = np.linalg.norm(np.asarray(params["v"], np.float64))

    def new_layer(scale):
        scaled = {**params, "v": params["v"] * scale}
        updates, _ = update(tree(11), state, scaled)
        return np.asarray(scaled["v"], np.float64), np.asarray(updates["v"], np.float64)

    w, u = new_layer(2.0)
    expected = w + u  # near its stored norm, the layer is turned and renormalized
    assert np.linalg.norm(expected) == pytest.approx(stored, rel=1e-5)
    assert float(layca_core.step_angle(w, expected)) > 0.05
    for scale in SCALES:
        w, u = new_layer(scale)
        assert np.abs(u).max() > 0, scale
        # the additive update carries the new layer to within float32 rounding of the rescaled one
        tolerance = 1e-5 * max(np.abs(expected).max(), np.abs(w).max())
        np.testing.assert_allclose(w + u, expected, rtol=0, atol=tolerance, err_msg=f"scale {scale}")


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("scale", SCALES)
def test_a_layer_far_from_one_stores_its_norm_at_init_and_turns(scale, jit):
    """Its squares under- or overflow float32 (the sums' dtype without x64): its norm is taken scaled near 1."""
    params = {**tree(0), "v": tree(0)["v"] * scale}
    optimizer = layca_optax.layca(0.1, "momentum")
    update = jax.jit(optimizer.update) if jit else optimizer.update
    updates, state = update(tree(10), optimizer.init(params), params)
    stored = float(np.linalg.norm(np.asarray(tree(0)["v"], np.float64))) * scale
    assert float(state.init_norms[0]) == pytest.approx(stored, rel=1e-5, abs=0)  # "v" comes first in the tree
    new = np.asarray(params["v"], np.float64) + np.asarray(updates["v"], np.float64)
    assert np.abs(np.asarray(updates["v"])).max() > 0
    assert float(np.linalg.norm(new)) == pytest.approx(stored, rel=1e-5, abs=0)

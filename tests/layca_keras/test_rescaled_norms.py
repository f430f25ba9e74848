"""A layer whose entries lie far from 1 (1e-30 in float32, whose squares underflow float32 sums as JAX's without x64
are; 1e-200 in float64) has its norm read at its first step, not refused as all zero, and turns."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_keras  # noqa: E402


@pytest.mark.parametrize(("dtype", "scale"), [("float32", 1e-30), ("float32", 1e30), ("float64", 1e-200)])
def test_a_layer_far_from_one_has_its_norm_read_and_turns(dtype, scale):
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX without x64 has no float64 variables")
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4))
    variable = keras.Variable((w * scale).astype(dtype), dtype=dtype, name="kernel")
    optimizer = layca_keras.Layca(0.1, base="momentum")
    optimizer.build([variable])
    optimizer.apply_gradients([(keras.ops.convert_to_tensor(rng.standard_normal((6, 4)).astype(dtype)), variable)])
    new = keras.ops.convert_to_numpy(variable).astype(np.float64) / scale
    assert np.linalg.norm(new) == pytest.approx(np.linalg.norm(w), rel=1e-5)
    assert not np.allclose(new, w, rtol=0, atol=1e-3)

"""The same MLP trained with Layca in PyTorch and JAX follows the exact NumPy trajectory (Keras: test_keras_adapter.py)."""

import functools

import numpy as np
import pytest

from conformance_tests import end_to_end
from conformance_tests.backends import Backend

exact = functools.lru_cache(maxsize=None)(end_to_end.numpy_run)
RUNS = {Backend.TORCH: end_to_end.torch_run, Backend.JAX: end_to_end.jax_run}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", [pytest.param(b, id=b.value) for b in RUNS])
def test_rotation_curves_follow_the_numpy_backprop_reference(backend, dtype):
    backend.require()
    pytest.importorskip("sklearn")
    with backend.precision(dtype):
        curves = RUNS[backend](dtype)
    assert curves.shape == (end_to_end.STEPS, 2) and curves[-1].min() > 0.3  # the layers really rotate
    assert float(np.abs(curves - exact()).max()) <= end_to_end.tolerance(dtype)

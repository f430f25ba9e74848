"""Small networks trained with Layca in PyTorch and JAX follow the exact NumPy trajectory (Keras: test_keras_adapter.py).

The conv net (ReLU after batch norm) is chaotic in float32 over long horizons: a torch float32
run stays within 5e-8 of the exact curves for 50 steps, then departs to 1e-4 by step 100 (7e-4
with oneDNN off) once a unit's pre-activation changes sign. In float64 every framework agrees to
4e-16 over all 100 steps. So float32 conv runs are compared over their first 40 steps.
"""

import functools

import numpy as np
import pytest

from layca_conformance import end_to_end, end_to_end_conv
from layca_conformance.backends import Backend

NETWORKS = {"mlp": (end_to_end, 100, 2048), "conv-bn": (end_to_end_conv, 100, 1440)}
FLOAT32_HORIZON = {"mlp": 100, "conv-bn": 40}


@functools.cache
def exact(network: str) -> np.ndarray:
    return NETWORKS[network][0].numpy_run()


def compared_steps(network: str, dtype: str) -> int:
    return FLOAT32_HORIZON[network] if dtype == "float32" else NETWORKS[network][1]


@pytest.mark.parametrize("network", sorted(NETWORKS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", [pytest.param(b, id=b.value) for b in (Backend.TORCH, Backend.JAX)])
def test_rotation_curves_follow_the_numpy_backprop_reference(backend, dtype, network):
    backend.require()
    pytest.importorskip("sklearn")
    module, _, largest = NETWORKS[network]
    with backend.precision(dtype):
        curves = (module.torch_run if backend is Backend.TORCH else module.jax_run)(dtype)
    steps = compared_steps(network, dtype)
    assert curves.shape == (end_to_end.STEPS, 2) and curves[-1].min() > 0.3  # the layers really rotate
    difference = float(np.abs(curves[:steps] - exact(network)[:steps]).max())
    assert difference <= end_to_end.tolerance(dtype, steps, largest)

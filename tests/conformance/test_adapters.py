"""The torch and optax drivers against the float64 reference, through the suite's pytest entry point.

Keras runs in its own processes (one per backend): see ``test_keras_adapter.py``. ``torch-fused`` sends every layer
to the compiled executor (the policy's size thresholds set to 0), whatever its size.
"""

import pytest

import layca_conformance
from layca_conformance.backends import Backend

DRIVERS = {
    "torch-foreach": (Backend.TORCH, "layca_conformance.drivers.torch_driver:run"),
    "torch-fused": (Backend.TORCH, "layca_conformance.drivers.torch_driver:run_fused"),
    "torch-single-tensor": (Backend.TORCH, "layca_conformance.drivers.torch_driver:run_single_tensor"),
    "optax": (Backend.JAX, "layca_conformance.drivers.optax_driver:run"),
}


@pytest.mark.parametrize("driver", sorted(DRIVERS))
@layca_conformance.parametrize(dtypes=("float64", "float32", "bfloat16"))
def test_adapter_conforms(driver, case, dtype, monkeypatch):
    backend, spec = DRIVERS[driver]
    backend.require()
    if driver == "torch-fused":
        from layca_torch._executors import policy

        monkeypatch.setattr(policy, "COMPILED_MIN_SIZE", 0)
        monkeypatch.setattr(policy, "FLAT_MAX_SIZE", 0)
    layca_conformance.assert_conforms(layca_conformance.load_driver(spec), case, dtype)

"""layca_keras against the float64 reference, on this process's KERAS_BACKEND (run once per backend)."""

import contextlib
import functools

import numpy as np
import pytest

from conformance_tests.cases import CASES
from conformance_tests.compare import errors, reference_trajectory

keras = pytest.importorskip("keras")
expected = functools.lru_cache(maxsize=None)(reference_trajectory)
DTYPES = ("float64", "float32")


@pytest.mark.parametrize(
    ("dtype", "case"),
    [
        pytest.param(d, c, id=f"keras-{d}-{c.name}")
        for c in CASES
        for d in DTYPES
        if d in c.dtypes and c.name != "one-million"
    ],
)
def test_keras_matches_the_reference(dtype, case):
    from conformance_tests.drivers import keras_driver

    measured = errors(case, keras_driver.run(case, dtype), expected(case))
    assert measured.within(case.tolerance(dtype)), f"{measured} exceeds {case.tolerance(dtype):.2e}"


KERAS_TORCH_FLOAT64 = pytest.mark.xfail(
    condition=keras.backend.backend() == "torch",
    reason="Keras's torch backend computes a float64 cross-entropy 3.1e-8 off the exact value (curves off by 5.5e-9)",
    strict=True,
)


@pytest.mark.parametrize("dtype", [pytest.param("float64", marks=KERAS_TORCH_FLOAT64), "float32"])
def test_keras_mlp_follows_the_numpy_backprop_reference(dtype):
    from conformance_tests import end_to_end

    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    x64 = dtype == "float64" and keras.backend.backend() == "jax"
    try:
        with __import__("jax").enable_x64(True) if x64 else contextlib.nullcontext():
            curves = end_to_end.keras_run(dtype)
    finally:
        keras.config.set_floatx(previous)
    assert float(np.abs(curves - end_to_end.numpy_run()).max()) <= end_to_end.tolerance(dtype)

"""layca_keras against the float64 reference, on this process's KERAS_BACKEND (run once per backend)."""

import contextlib
import functools

import numpy as np
import pytest

from layca_conformance.cases import CASES
from layca_conformance.compare import errors, reference_trajectory

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
    from layca_conformance.drivers import keras_driver

    measured = errors(case, keras_driver.run(case, dtype), expected(case))
    assert measured.within(case.tolerance(dtype)), f"{measured} exceeds {case.tolerance(dtype):.2e}"


KERAS_TORCH_FLOAT64 = pytest.mark.xfail(
    condition=keras.backend.backend() == "torch",
    reason="Keras's torch backend computes a float64 cross-entropy 3.1e-8 off the exact value (curves off by 5.5e-9)",
    strict=True,
)


KERAS_JAX_FLOAT64_CONV = pytest.mark.xfail(
    condition=keras.backend.backend() == "jax",
    reason="Keras on JAX runs the float64 conv + batch-norm net 1.1e-8 off the exact curves; the same optimizer "
    "matches the float64 MLP there to 3.3e-16 and the conv net on TensorFlow within its 2e-13 bound",
    strict=True,
)


@pytest.mark.parametrize(
    ("network", "dtype"),
    [
        pytest.param("mlp", "float64", marks=KERAS_TORCH_FLOAT64),
        pytest.param("conv-bn", "float64", marks=[KERAS_TORCH_FLOAT64, KERAS_JAX_FLOAT64_CONV]),
        ("mlp", "float32"),
        ("conv-bn", "float32"),
    ],
)
def test_keras_network_follows_the_numpy_backprop_reference(dtype, network):
    from layca_conformance import end_to_end
    from tests.conformance.test_end_to_end import NETWORKS, compared_steps, exact

    module, _, largest = NETWORKS[network]
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    x64 = dtype == "float64" and keras.backend.backend() == "jax"
    try:
        with __import__("jax").enable_x64(True) if x64 else contextlib.nullcontext():
            curves = module.keras_run(dtype)
    finally:
        keras.config.set_floatx(previous)
    steps = compared_steps(network, dtype)
    difference = float(np.abs(curves[:steps] - exact(network)[:steps]).max())
    assert difference <= end_to_end.tolerance(dtype, steps, largest)

"""layca_keras against the float64 reference, on this process's KERAS_BACKEND (run once per backend)."""

import functools

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

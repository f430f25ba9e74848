"""layca_core on every backend, dtype and device against the independent float64 reference."""

import functools

import pytest

from conformance_tests.backends import Backend
from conformance_tests.cases import CASES
from conformance_tests.compare import errors, reference_trajectory
from conformance_tests.run_core import run_core

expected = functools.lru_cache(maxsize=None)(reference_trajectory)
MATRIX = [
    pytest.param(backend, dtype, case, id=f"{backend.value}-{dtype}-{case.name}")
    for backend in Backend
    for case in CASES
    for dtype in case.dtypes
    if dtype in backend.dtypes
]


@pytest.mark.parametrize(("backend", "dtype", "case"), MATRIX)
def test_core_matches_the_reference(backend, dtype, case):
    backend.require()
    with backend.precision(dtype):
        measured = errors(case, run_core(case, backend, dtype), expected(case))
    assert measured.within(case.tolerance(dtype)), f"{measured} exceeds {case.tolerance(dtype):.2e}"

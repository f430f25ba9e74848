"""layca_core on every backend, dtype and device against the independent float64 reference."""

import functools

import pytest

from layca_conformance.backends import Backend
from layca_conformance.cases import CASES
from layca_conformance.compare import errors, reference_trajectory
from layca_conformance.run_core import run_core

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

"""layca_core on every backend and dtype against the independent float64 reference, through the suite's entry point."""

import pytest

import layca_conformance
from layca_conformance.backends import Backend
from layca_conformance.run_core import core_driver

MATRIX = [
    pytest.param(backend, case, dtype, id=f"{backend.value}-{dtype}-{case.name}")
    for backend in Backend
    for case, dtype in layca_conformance.selected(backend.dtypes)
]


@pytest.mark.parametrize(("backend", "case", "dtype"), MATRIX)
def test_core_conforms(backend, case, dtype):
    backend.require()
    layca_conformance.assert_conforms(core_driver(backend), case, dtype)

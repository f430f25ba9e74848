"""Every adapter's public API against the float64 reference, on the cases of the table.

Keras runs in its own processes (one per backend): see ``test_keras_adapter.py``.
"""

import functools

import pytest

from layca_conformance.backends import Backend
from layca_conformance.cases import CASES
from layca_conformance.compare import errors, reference_trajectory

expected = functools.lru_cache(maxsize=None)(reference_trajectory)


def _torch(case, dtype, foreach):
    from layca_conformance.drivers import torch_driver

    return torch_driver.run(case, dtype, foreach=foreach)


def _optax(case, dtype):
    from layca_conformance.drivers import optax_driver

    return optax_driver.run(case, dtype)


DRIVERS = {
    "torch-optimizer": (Backend.TORCH, lambda case, dtype: _torch(case, dtype, foreach=False)),
    "torch-foreach": (Backend.TORCH, lambda case, dtype: _torch(case, dtype, foreach=None)),
    "optax": (Backend.JAX, _optax),
}
MATRIX = [
    pytest.param(name, dtype, case, id=f"{name}-{dtype}-{case.name}")
    for name, (backend, _) in DRIVERS.items()
    for case in CASES
    for dtype in case.dtypes
    if dtype in backend.dtypes and case.name != "one-million"
]


@pytest.mark.parametrize(("driver", "dtype", "case"), MATRIX)
def test_adapter_matches_the_reference(driver, dtype, case):
    backend, run = DRIVERS[driver]
    backend.require()
    with backend.precision(dtype):
        measured = errors(case, run(case, dtype), expected(case))
    assert measured.within(case.tolerance(dtype)), f"{measured} exceeds {case.tolerance(dtype):.2e}"

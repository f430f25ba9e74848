"""The pytest entry point: parametrize a port's own test over the case table.

In the port's test suite::

    import layca_conformance
    from my_port import conformance_driver

    @layca_conformance.parametrize()
    def test_my_port_conforms(case, dtype):
        layca_conformance.assert_conforms(conformance_driver.run, case, dtype)

Each case and dtype is one test, failing with the case's line (its errors against their bounds).
"""

from collections.abc import Callable
from typing import Any

import pytest

from layca_conformance.cases import Case
from layca_conformance.protocol import Driver
from layca_conformance.runner import DEFAULT_DTYPES, check, selected


def parametrize(dtypes: tuple[str, ...] = DEFAULT_DTYPES, quick: bool = False) -> Callable[[Any], Any]:
    """``pytest.mark.parametrize`` over ``(case, dtype)``: every case in each of ``dtypes`` it lists."""
    params = [pytest.param(case, dtype, id=f"{case.name}-{dtype}") for case, dtype in selected(dtypes, quick)]
    return pytest.mark.parametrize(("case", "dtype"), params)


def assert_conforms(driver: Driver, case: Case, dtype: str, device: str = "cpu") -> None:
    """Fail with the case's line (its errors against their bounds) unless ``driver`` matches the reference."""
    result = check(driver, case, dtype, device)
    assert result.passed, result.line()

"""The Layca conformance suite: a case table, an independent float64 reference, and the checks a port must pass.

One command checks a port's driver (see :class:`Driver` for the contract)::

    python -m layca_conformance --driver my_port.conformance:run

and :func:`parametrize` with :func:`assert_conforms` put the same checks into a port's own pytest suite.
"""

from layca_conformance.cases import BASE_DEFAULTS, CASES, CASES_VERSION, UNIT_ROUNDOFF, Case
from layca_conformance.compare import Errors, errors, reference_trajectory
from layca_conformance.protocol import Driver, Trajectory
from layca_conformance.pytest_support import assert_conforms, parametrize
from layca_conformance.runner import DEFAULT_DTYPES, Result, check, load_driver, selected, summary, table

__all__ = [
    "BASE_DEFAULTS",
    "CASES",
    "CASES_VERSION",
    "DEFAULT_DTYPES",
    "UNIT_ROUNDOFF",
    "Case",
    "Driver",
    "Errors",
    "Result",
    "Trajectory",
    "assert_conforms",
    "check",
    "errors",
    "load_driver",
    "parametrize",
    "reference_trajectory",
    "selected",
    "summary",
    "table",
]

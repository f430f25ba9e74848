"""The suite has teeth: every classic porting mistake is rejected, by the cases that docs/conformance.md lists."""

import warnings

import pytest

import layca_conformance
from tests.conformance.mistaken_drivers import MISTAKES, numpy_port

EVERY_LAYCA_CASE = {c.name for c in layca_conformance.CASES if c.variant == "layca"}
CAUGHT_IN_FLOAT64 = {
    "rate used as the angle": EVERY_LAYCA_CASE,
    "no tangent projection (Hyperball)": EVERY_LAYCA_CASE,
    "renormalized to the previous norm": {"norm-kept"},
    "Adam bias correction in the layers' rate": {"adam", "nan-gradients"},
    "base learning rate in the layers' rate": {c.name for c in layca_conformance.CASES},
    "non-finite gradients passed through": {"nan-gradients"},
    "Equation 1 multipliers in reverse layer order": {"momentum", "nesterov", "adam", "hyperball", "muon"},
    "per-shard norms (a layer split in two halves)": EVERY_LAYCA_CASE,
    "four Newton-Schulz steps instead of five (Muon)": {c.name for c in layca_conformance.CASES if c.base == "muon"},
}
"""The cases that reject each mistake in float64 (the table of docs/conformance.md)."""


def failing_cases(driver, dtype: str) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mistakes produce NaN and overflow on purpose
        return {
            case.name
            for case, d in layca_conformance.selected((dtype,))
            if not layca_conformance.check(driver, case, d).passed
        }


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_correct_numpy_port_passes_every_case(dtype):
    assert failing_cases(numpy_port, dtype) == set()


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_rejected_by_the_cases_documented(mistake):
    assert failing_cases(MISTAKES[mistake], "float64") == CAUGHT_IN_FLOAT64[mistake]


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_rejected_in_float32(mistake):
    assert failing_cases(MISTAKES[mistake], "float32")

"""Shared fixtures, and a closing line counting the tests run per backend."""

import collections
import importlib.util

import numpy as np
import pytest

from layca_conformance.backends import DTYPES, Backend, backend_params

if importlib.util.find_spec("triton") is not None:
    # triton and TensorFlow each bundle LLVM: imported after TensorFlow (torch.compile imports it),
    # triton aborts the process ("Option 'bitcode-mdindex-threshold' registered more than once").
    import triton  # noqa: F401

_passed: collections.Counter[str] = collections.Counter()
_ALIASES = {"optax": "jax", "keras": "keras", "layca_torch": "torch", "layca_optax": "jax", "layca_keras": "keras"}


def _backend_of(nodeid: str) -> str:
    """The backend a test ran on: from its parameter id, else from its file's adapter."""
    params = nodeid.partition("[")[2].rstrip("]").split("-")
    for backend in Backend:
        if backend.value in params:
            return backend.value
    for marker, name in _ALIASES.items():
        if marker in params or marker in nodeid.partition("[")[0]:
            return name
    return "framework-free"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        _passed[_backend_of(report.nodeid)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _passed:
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(_passed.items()))
        terminalreporter.write_line(f"layca tests passed per backend: {counts}")


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> Backend:
    request.param.require()
    return request.param


def _backend_dtype(request: pytest.FixtureRequest):
    backend, dtype = request.param
    backend.require()
    with backend.precision(dtype):
        yield backend, dtype


backend_dtype = pytest.fixture(params=backend_params(DTYPES))(_backend_dtype)
"""Every backend with every floating dtype it has."""

backend_wide_dtype = pytest.fixture(params=backend_params(("float64", "float32")))(_backend_dtype)
"""Every backend in float64 and float32."""


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)

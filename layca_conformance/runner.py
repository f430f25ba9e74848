"""Run a driver on the case table against the reference: one result per case and dtype."""

import importlib
import json
from dataclasses import dataclass

from layca_conformance.cases import CASES, Case
from layca_conformance.compare import Errors, errors, reference_trajectory
from layca_conformance.protocol import Driver

DEFAULT_DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Result:
    """How one case in one dtype went: its errors, or the problem that stopped it."""

    runner: str
    device: str
    case: Case
    dtype: str
    errors: Errors | None
    problem: str = ""

    @property
    def passed(self) -> bool:
        return self.errors is not None and self.errors.within(self.case, self.dtype)

    def line(self) -> str:
        """One line: the verdict, the case, the dtype, and the errors against their bounds (or the problem)."""
        verdict = "pass" if self.passed else "FAIL"
        head = f"{verdict} {self.case.name:<18} {self.dtype:<9}"
        if self.errors is None:
            return f"{head} {self.problem}"
        tolerance, norm_tolerance = self.case.tolerance(self.dtype), self.case.norm_tolerance(self.dtype)
        return (
            f"{head} weights {self.errors.weights:.2e} <= {tolerance:.2e}, rotation {self.errors.rotation:.2e} "
            f"<= {2 * tolerance:.2e}, norm {self.errors.norm:.2e} <= {norm_tolerance:.2e}"
        )


def load_driver(spec: str) -> Driver:
    """The function named by ``package.module:function``."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"--driver {spec!r} must name a function as package.module:function.")
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        raise ValueError(f"--driver {spec!r}: module {module!r} cannot be imported ({error}).") from error
    function = getattr(imported, name, None)
    if not callable(function):
        raise ValueError(f"--driver {spec!r}: module {module!r} has no function {name!r}.")
    return function


def selected(dtypes: tuple[str, ...] = DEFAULT_DTYPES, quick: bool = False) -> list[tuple[Case, str]]:
    """Every case of the table in each of ``dtypes`` that it lists; ``quick`` keeps the cases of at most 40 steps."""
    return [
        (case, dtype)
        for case in CASES
        if not quick or (case.steps <= 40 and case.name != "one-million")
        for dtype in dtypes
        if dtype in case.dtypes
    ]


def check(driver: Driver, case: Case, dtype: str, device: str = "cpu", runner: str = "driver") -> Result:
    """Run ``case`` through ``driver`` and compare it with the reference; an exception fails the case."""
    try:
        measured = errors(case, driver(case, dtype, device), reference_trajectory(case))
    except Exception as error:  # a crashing port fails its case; the other cases still run
        problem = " ".join(f"{type(error).__name__}: {error}".split())
        return Result(runner, device, case, dtype, None, problem)
    return Result(runner, device, case, dtype, measured)


def summary(results: list[Result]) -> str:
    """The closing line: ``N passed, N failed``."""
    failed = sum(not r.passed for r in results)
    return f"{len(results) - failed} passed, {failed} failed"


def table(results: list[Result]) -> str:
    """The results as a markdown table, closed by the summary line."""
    lines = [
        "| runner | device | dtype | case | weight error | rotation error | norm error | tolerance | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        measured = (
            f"{r.errors.weights:.2e} | {r.errors.rotation:.2e} | {r.errors.norm:.2e}"
            if r.errors
            else f"{r.problem} | | "
        )
        lines.append(
            f"| {r.runner} | {r.device} | {r.dtype} | {r.case.name} | {measured} | {r.case.tolerance(r.dtype):.2e} "
            f"| {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(lines) + f"\n\n{summary(results)}"


def dump(results: list[Result], path: str) -> None:
    """Write the results to ``path`` as JSON (what ``load`` reads back)."""
    rows = [[r.runner, r.device, r.case.name, r.dtype, r.errors, r.problem] for r in results]
    with open(path, "w") as file:
        json.dump(rows, file)


def load(path: str) -> list[Result]:
    """The results that ``dump`` wrote to ``path``."""
    by_name = {case.name: case for case in CASES}
    with open(path) as file:
        rows = json.load(file)
    return [
        Result(runner, device, by_name[name], dtype, Errors(*measured) if measured else None, problem)
        for runner, device, name, dtype, measured, problem in rows
    ]

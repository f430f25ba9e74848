"""The one command: check a driver against the float64 reference on every case of the table.

    python -m layca_conformance --driver package.module:run [--device cuda] [--dtypes float64 float32]
                                [--report r.md] [--json r.json] [--cases-version N] [--quick]
    python -m layca_conformance --all [--device cuda] [--report r.md] [--quick]

One line per case and dtype, then ``N passed, N failed``. Exit status 1 when any case fails,
2 on a usage error or when nothing ran. ``--all`` runs this project's whole matrix (``matrix.py``).
"""

import argparse
import sys
from collections.abc import Iterator

from layca_conformance.cases import CASES_VERSION, UNIT_ROUNDOFF
from layca_conformance.runner import DEFAULT_DTYPES, Result, check, dump, load_driver, selected, summary, table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m layca_conformance", description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--driver", help="the driver to check, as package.module:function (see layca_conformance.Driver)")
    what.add_argument("--all", action="store_true", help="this project's whole matrix: core, torch, optax, Keras")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtypes", nargs="+", choices=tuple(UNIT_ROUNDOFF), default=DEFAULT_DTYPES)
    parser.add_argument("--report", help="also write the results as a markdown table to this file")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument(
        "--cases-version", type=int, help=f"fail unless the case table has this version (now {CASES_VERSION})"
    )
    parser.add_argument("--quick", action="store_true", help="only the cases of at most 40 steps")
    parser.add_argument("--runner", default="driver", help="the runner's name in the report (default: driver)")
    return parser


def _results(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Iterator[Result]:
    if args.all:
        from layca_conformance.matrix import all_results

        yield from all_results(args.device, args.quick)
        return
    try:
        driver = load_driver(args.driver)
    except ValueError as error:
        parser.error(str(error))
    for case, dtype in selected(tuple(args.dtypes), args.quick):
        yield check(driver, case, dtype, args.device, args.runner)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cases_version is not None and args.cases_version != CASES_VERSION:
        parser.error(
            f"--cases-version {args.cases_version} was asked for, but this case table is version {CASES_VERSION}."
        )
    results = []
    for result in _results(parser, args):
        print(f"{result.runner} {result.line()}" if args.all else result.line(), flush=True)
        results.append(result)
    if not results:
        print("Nothing ran: install at least one backend, or pick dtypes the cases list.", file=sys.stderr)
        return 2
    print(summary(results))
    if args.report:
        with open(args.report, "w") as file:
            file.write(table(results) + "\n")
    if args.json:
        dump(results, args.json)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

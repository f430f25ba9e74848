"""Run the whole conformance matrix and print a table of errors against the float64 reference.

    python -m layca_conformance [--device cpu|cuda] [--report report.md] [--quick]

Core on every backend, the torch and optax adapters in this process, Keras in one
subprocess per backend. Exit status 1 when any row fails, 2 when nothing could run.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys

from layca_conformance.backends import Backend
from layca_conformance.cases import CASES
from layca_conformance.compare import errors, reference_trajectory

KERAS_BACKENDS = ("tensorflow", "jax", "torch")


def _row(runner: str, device: str, dtype: str, case, trajectory: list) -> dict:
    measured = errors(case, trajectory, reference_trajectory(case))
    tolerance = case.tolerance(dtype)
    return {
        "runner": runner,
        "device": device,
        "dtype": dtype,
        "case": case.name,
        "weight_error": measured.weights,
        "rotation_error": measured.rotation,
        "tolerance": tolerance,
        "passed": measured.within(tolerance),
    }


def _cases(quick: bool) -> list:
    return [c for c in CASES if not quick or c.steps <= 40 and c.name != "one-million"]


def in_process_rows(device: str, quick: bool) -> list[dict]:
    from layca_conformance.run_core import run_core

    rows = []
    for backend in Backend:
        if not backend.available():
            print(f"skip {backend.value}: not installed", file=sys.stderr)
            continue
        for case in _cases(quick):
            for dtype in (d for d in case.dtypes if d in backend.dtypes):
                with backend.precision(dtype):
                    rows.append(_row(f"core/{backend.value}", device, dtype, case, run_core(case, backend, dtype)))
    adapters = {
        "torch": ("torch_driver", ("float64", "float32", "bfloat16")),
        "optax": ("optax_driver", ("float64", "float32", "bfloat16")),
    }
    for name, (module, dtypes) in adapters.items():
        library = "jax" if name == "optax" else name
        if importlib.util.find_spec(library) is None:
            print(f"skip {name} adapter: {library} not installed", file=sys.stderr)
            continue
        driver = importlib.import_module(f"layca_conformance.drivers.{module}")
        for case in (c for c in _cases(quick) if c.name != "one-million"):
            for dtype in (d for d in case.dtypes if d in dtypes):
                context = Backend.JAX.precision(dtype) if name == "optax" else contextlib.nullcontext()
                with context:
                    rows.append(_row(f"{name}-adapter", device, dtype, case, driver.run(case, dtype)))
    return rows


def keras_rows(device: str, quick: bool) -> list[dict]:
    """One subprocess per Keras backend (Keras fixes its backend at import)."""
    if importlib.util.find_spec("keras") is None:
        print("skip keras adapter: keras not installed", file=sys.stderr)
        return []
    rows = []
    for keras_backend in KERAS_BACKENDS:
        if importlib.util.find_spec(keras_backend) is None:
            print(f"skip keras on {keras_backend}: not installed", file=sys.stderr)
            continue
        env = {**os.environ, "KERAS_BACKEND": keras_backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "layca_conformance", "--keras-only", "--device", device] + (
            ["--quick"] if quick else []
        )
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode not in (0, 1):
            raise RuntimeError(f"keras on {keras_backend} crashed:\n{result.stderr[-3000:]}")
        rows.extend(json.loads(result.stdout.strip().splitlines()[-1]))
    return rows


def keras_in_this_process(device: str, quick: bool) -> list[dict]:
    import keras

    from layca_conformance.drivers import keras_driver

    return [
        _row(f"keras-adapter/{keras.backend.backend()}", device, dtype, case, keras_driver.run(case, dtype))
        for case in _cases(quick)
        if case.name != "one-million"
        for dtype in ("float64", "float32")
        if dtype in case.dtypes
    ]


def table(rows: list[dict]) -> str:
    lines = [
        "| runner | device | dtype | case | weight error | rotation error | tolerance | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['runner']} | {r['device']} | {r['dtype']} | {r['case']} | {r['weight_error']:.2e} | "
            f"{r['rotation_error']:.2e} | {r['tolerance']:.2e} | {'pass' if r['passed'] else 'FAIL'} |"
        )
    failed = sum(not r["passed"] for r in rows)
    lines.append(f"\n{len(rows) - failed} passed, {failed} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Layca conformance matrix against the float64 reference.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--report", help="also write the table (markdown) to this file")
    parser.add_argument("--quick", action="store_true", help="skip the long and one-million cases")
    parser.add_argument("--keras-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["LAYCA_DEVICE"] = args.device
    if args.keras_only:
        rows = keras_in_this_process(args.device, args.quick)
        print(json.dumps(rows))
        return 0 if all(r["passed"] for r in rows) else 1
    rows = in_process_rows(args.device, args.quick) + keras_rows(args.device, args.quick)
    if not rows:
        print("Nothing ran: install at least one backend.", file=sys.stderr)
        return 2
    report = table(rows)
    print(report)
    if args.report:
        with open(args.report, "w") as file:
            file.write(report + "\n")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

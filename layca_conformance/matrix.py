"""The project's whole matrix (``--all``): layca_core on every backend and the three adapters' drivers.

Every run is the one command on one driver, in its own process: Keras fixes its backend at import,
and TensorFlow, started after whole core runs on JAX and torch in one process, aborted it here with
"LLVM ERROR: inconsistency in registered CommandLine options" (the one-process matrix before this
one did too). So the project's own drivers go through exactly the entry point a port's driver does.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from layca_conformance.backends import Backend
from layca_conformance.runner import Result, load

ADAPTER_DTYPES = ("float64", "float32", "bfloat16")
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
RUNS = (  # runner, driver, dtypes, libraries it needs, environment
    *((f"core/{b.value}", f"layca_conformance.run_core:on_{b.value}", b.dtypes, (b.module,), {}) for b in Backend),
    ("torch-adapter", "layca_conformance.drivers.torch_driver:run", ADAPTER_DTYPES, ("torch",), {}),
    ("optax-adapter", "layca_conformance.drivers.optax_driver:run", ADAPTER_DTYPES, ("optax",), {}),
    *(
        (
            f"keras-adapter/{b}",
            "layca_conformance.drivers.keras_driver:run",
            ("float64", "float32"),
            ("keras", b),
            {"KERAS_BACKEND": b},
        )
        for b in KERAS_BACKENDS
    ),
)


def one_run(
    runner: str, driver: str, dtypes: tuple[str, ...], env: dict[str, str], device: str, quick: bool
) -> list[Result]:
    """The one command on ``driver`` in a subprocess, its results read back from its ``--json`` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "results.json")
        command = [
            sys.executable,
            "-m",
            "layca_conformance",
            "--driver",
            driver,
            "--device",
            device,
            "--runner",
            runner,
        ]
        command += ["--dtypes", *dtypes, "--json", path] + (["--quick"] if quick else [])
        env = {**os.environ, "LAYCA_DEVICE": device, "TF_CPP_MIN_LOG_LEVEL": "3", **env}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{runner} crashed (exit status {done.returncode}):\n{done.stderr[-3000:]}")
        return load(path)


def all_results(device: str, quick: bool) -> Iterator[Result]:
    """Every result of the matrix, runner by runner; a runner whose libraries are missing is skipped with a note."""
    for runner, driver, dtypes, libraries, env in RUNS:
        missing = [name for name in libraries if importlib.util.find_spec(name) is None]
        if missing:
            print(f"skip {runner}: {', '.join(missing)} not installed", file=sys.stderr)
            continue
        yield from one_run(runner, driver, dtypes, env, device, quick)

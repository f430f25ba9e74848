"""The project's whole matrix (``--all``): layca_core on every backend and the three adapters' drivers.

The core runs on each installed backend and the torch and optax drivers in this process; the Keras
driver runs through the one command in one subprocess per Keras backend (Keras fixes its backend at
import). Every adapter goes through the same ``check`` as any port's driver.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile

from layca_conformance.backends import Backend
from layca_conformance.runner import Result, check, load, load_driver, selected

ADAPTER_DTYPES = ("float64", "float32", "bfloat16")
ADAPTERS = {  # runner: (library it needs, driver)
    "torch-adapter": ("torch", "layca_conformance.drivers.torch_driver:run"),
    "optax-adapter": ("optax", "layca_conformance.drivers.optax_driver:run"),
}
KERAS_DRIVER = "layca_conformance.drivers.keras_driver:run"
KERAS_BACKENDS = ("tensorflow", "jax", "torch")


def core_results(device: str, quick: bool) -> list[Result]:
    from layca_conformance.run_core import core_driver

    results = []
    for backend in Backend:
        if not backend.available():
            print(f"skip core on {backend.value}: not installed", file=sys.stderr)
            continue
        run = core_driver(backend)
        for case, dtype in selected(backend.dtypes, quick):
            results.append(check(run, case, dtype, device, runner=f"core/{backend.value}"))
    return results


def adapter_results(device: str, quick: bool) -> list[Result]:
    results = []
    for runner, (library, spec) in ADAPTERS.items():
        if importlib.util.find_spec(library) is None:
            print(f"skip {runner}: {library} not installed", file=sys.stderr)
            continue
        driver = load_driver(spec)
        results += [check(driver, case, dtype, device, runner) for case, dtype in selected(ADAPTER_DTYPES, quick)]
    return results


def keras_results(device: str, quick: bool) -> list[Result]:
    """The one command on the Keras driver, once per Keras backend, each in its own process."""
    if importlib.util.find_spec("keras") is None:
        print("skip keras-adapter: keras not installed", file=sys.stderr)
        return []
    results = []
    for keras_backend in KERAS_BACKENDS:
        if importlib.util.find_spec(keras_backend) is None:
            print(f"skip keras-adapter/{keras_backend}: {keras_backend} not installed", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "results.json")
            command = [sys.executable, "-m", "layca_conformance", "--driver", KERAS_DRIVER, "--device", device]
            command += ["--runner", f"keras-adapter/{keras_backend}", "--json", path] + (["--quick"] if quick else [])
            env = {**os.environ, "KERAS_BACKEND": keras_backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"keras on {keras_backend} crashed:\n{done.stderr[-3000:]}")
            results += load(path)
    return results


def all_results(device: str, quick: bool) -> list[Result]:
    os.environ["LAYCA_DEVICE"] = device
    return core_results(device, quick) + adapter_results(device, quick) + keras_results(device, quick)

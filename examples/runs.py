"""One run of a study: train one configuration from one seed and describe it as a JSON-ready record.

The seed fixes the initial kernels and the batch order, and nothing else varies, so runs with the
same seed differ only by their configuration (their differences pair). Run in the study runner's
worker processes; ``prepare`` sets a worker up once.
"""

import functools
import json
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import numpy as np

from examples import experiment, networks
from examples.studies import Config, Study, Task

ROOT = Path(__file__).resolve().parents[1]
# What decides a run's numbers: a change here leaves the commit "dirty" in the record.
NUMERIC_PATHS = (
    "layca_core",
    "adapters",
    "examples/trainers",
    "examples/experiment.py",
    "examples/networks.py",
    "examples/transformer.py",
    "examples/corpus.py",
)
PACKAGES = ("numpy", "torch", "jax", "jaxlib", "optax", "keras", "tensorflow-cpu", "mnist1d")


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", name.replace("+", "plus").replace("-", "minus")).strip("_")


def path(out_dir: Path, framework: str, config: Config, seed: int) -> Path:
    return out_dir / framework / slug(config.name) / f"seed{seed}.json"


def key(study: Study, framework: str, config: Config, seed: int) -> dict:
    """What identifies a run (not the study's name: a study's folder may be renamed): another key is stale."""
    return {
        "version": study.version,
        "framework": framework,
        "task": asdict(study.task),
        "config": config.as_dict(),
        "seed": seed,
    }


def finished(file: Path, run_key: dict) -> bool:
    if not file.is_file():
        return False
    try:
        return json.loads(file.read_text())["key"] == json.loads(json.dumps(run_key))
    except (ValueError, KeyError):
        return False


@functools.cache
def provenance() -> dict:
    """The commit (with the changed files that decide numbers, if any), Python and the packages' versions."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    changed = git("status", "--porcelain", "--untracked-files=no", "--", *NUMERIC_PATHS).splitlines()
    return {
        "commit": git("rev-parse", "--short=12", "HEAD").strip() or "unknown",
        "changed": [line[3:] for line in changed],
        "versions": versions,
    }


@functools.cache
def dataset(task: Task, data_dir: str | None):
    if task.dataset == "mnist1d":
        from examples.data import mnist1d

        return mnist1d(task.samples)
    if task.dataset == "synthlm":
        from examples.corpus import corpus

        return corpus(task.samples)
    if task.dataset == "cifar10":
        if data_dir is None:
            raise ValueError("the cifar10 study needs --data-dir: the extracted cifar-10-batches-py folder.")
        from examples.cifar10 import load_cifar10

        return load_cifar10(data_dir)
    raise ValueError(f"task dataset must be 'mnist1d', 'synthlm' or 'cifar10'; got {task.dataset!r}.")


def pin_threads(framework: str, threads: int) -> None:
    """Run ``framework`` on ``threads`` threads (the order of float32 sums, and so a run's numbers, depend on it)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    experiment.trainer(framework)
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)


def prepare(framework: str, threads: int) -> None:
    """A worker process: its framework's trainer imported (Keras's backend set), ``threads`` threads, no epoch bars."""
    experiment.SHOW_PROGRESS = False
    pin_threads(framework, threads)
    provenance()  # read now, with the code this process imported, not when its first run ends


def train(
    study: Study, framework: str, config: Config, seed: int, data_dir: str | None = None, device: str | None = None
) -> dict:
    """Train one run and return its record: key, provenance, wall time, accuracies and per-epoch curves.

    ``device``: torch's device (CUDA for the CIFAR-10 study); other frameworks take none.
    """
    if device is not None and framework != "torch":
        raise ValueError(f"--device is for --framework torch; {framework} picks its own device.")
    task = study.task
    if task.network == "transformer":
        return lm_record(study, framework, config, seed)
    network = getattr(networks, task.network)()
    data = dataset(task, data_dir)
    weights = networks.initial_weights(network, seed)
    plan = experiment.plan(len(data.y_train), task.epochs, task.batch, task.schedule(config.warmup_epochs), seed)
    start = time.perf_counter()
    options = {} if device is None else {"device": device}
    run = experiment.trainer(framework).train(network, weights, config.method, data, plan, **options)
    record = _record(study, framework, config, seed, start, run)
    record["curves"]["train_accuracy"] = [float(v) for v in run.epoch_accuracy]
    return {**record, "test_accuracy": run.test_accuracy, "train_accuracy": run.train_accuracy}


def _record(study: Study, framework: str, config: Config, seed: int, start: float, run) -> dict:
    """What every run's record holds: its key, provenance, wall time, loss and rotation curves."""
    history = run.history
    return {
        "key": key(study, framework, config, seed),
        **provenance(),
        "framework_label": experiment.framework_label(framework),
        "wall_time_s": round(time.perf_counter() - start, 2),
        "curves": {
            "epoch": history.epochs,
            "train_loss": [float(v) for v in run.epoch_loss],
            "layer_names": list(history.layer_names),
            "rotation": np.asarray(history.distances).round(6).tolist(),
        },
    }


def lm_record(study: Study, framework: str, config: Config, seed: int) -> dict:
    """Train the language model (``config.width`` times the base width) and return its record, as ``train``."""
    from examples import transformer

    task, shape = study.task, transformer.shape(config.width)
    data = dataset(task, None)
    weights = transformer.initial_weights(shape, seed)
    plan = experiment.plan(len(data.train), task.epochs, task.batch, task.schedule(config.warmup_epochs), seed)
    start = time.perf_counter()
    run = experiment.trainer(framework, "lm").train(shape, weights, config.method, data, plan)
    record = _record(study, framework, config, seed, start, run)
    record["curves"]["val_loss"] = [float(v) for v in run.val_losses]
    return {
        **record,
        "corpus_sha256": data.sha256,
        "steps": len(plan.multipliers),
        "val_loss": run.val_loss,
        "val_accuracy": run.val_accuracy,
    }


def current(file: Path, numerics: dict) -> bool:
    """Whether the run stored in ``file`` was made by code of the fingerprint ``numerics`` (examples/fingerprint.py)."""
    return json.loads(file.read_text()).get("numerics", {}).get("digest") == numerics["digest"]


def train_and_save(
    study: Study,
    framework: str,
    config: Config,
    seed: int,
    out_dir: Path,
    numerics: dict,
    data_dir: str | None = None,
    device: str | None = None,
) -> float:
    """Train one run, write its record (atomically: a killed run leaves no file) and return its wall time.

    ``numerics``: the fingerprint of the code that trains it (``examples.fingerprint.measure``), recorded with it.
    """
    record = train(study, framework, config, seed, data_dir, device)
    record["device"] = device or "cpu"
    record["numerics"] = numerics
    file = path(out_dir, framework, config, seed)
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_suffix(".partial")
    partial.write_text(json.dumps(record))
    partial.replace(file)
    return record["wall_time_s"]


def load(study: Study, out_dir: Path, framework: str = "torch") -> dict[str, dict[int, dict]]:
    """The stored runs of ``study``'s current version in ``framework``: configuration name -> seed -> record."""
    found: dict[str, dict[int, dict]] = {}
    for config in study.configs_for(framework):
        for file in sorted((out_dir / framework / slug(config.name)).glob("seed*.json")):
            record = json.loads(file.read_text())
            seed = record["key"]["seed"]
            if finished(file, key(study, framework, config, seed)):
                found.setdefault(config.name, {})[seed] = record
    return found

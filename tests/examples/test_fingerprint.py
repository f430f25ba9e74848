"""Committed results know the numerics of the code that made them (examples/fingerprint.py).

Each committed study run and the demo record the fingerprint of their code; these tests recompute it and fail,
naming the command that remakes the results, when a change to the code has moved a step's numbers since.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples import fingerprint, runs

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ROOT / "results" / "studies"
DEMO = ROOT / "results" / "demo" / "results.json"
DEFAULT_SEEDS = 5
NEEDS = {"torch": "torch", "jax": "optax", "keras-jax": "keras"}


def study_results() -> list:
    """(study, framework, its run records) for every committed study folder."""
    found = []
    for folder in sorted(path for path in STUDIES.glob("*/*") if path.is_dir() and path.name in NEEDS):
        records = [json.loads(file.read_text()) for file in sorted(folder.glob("*/seed*.json"))]
        found.append(pytest.param(folder.parent.name, folder.name, records, id=f"{folder.parent.name}-{folder.name}"))
    return found


def study_command(name: str, framework: str, records: list[dict]) -> str:
    seeds = 1 + max(record["key"]["seed"] for record in records)
    more = f" --seeds {seeds}" if framework == "torch" and seeds != DEFAULT_SEEDS else ""
    return f"python -m examples.study {name} --framework {framework}{more} --jobs 2"


def check(label: str, framework: str, made_by: list[tuple[dict, dict]], command: str) -> None:
    """Every (numerics, versions) in ``made_by`` is this code's on this machine, or a skip says why it cannot be."""
    if importlib.util.find_spec(NEEDS[framework]) is None:
        pytest.skip(f"{label} is {framework}'s and {NEEDS[framework]} is not installed")
    if any(versions != runs.provenance()["versions"] for _, versions in made_by):
        pytest.skip(f"{label} was made with other package versions: only the same packages give the same numbers")
    if any(numerics.get("cpu") not in (None, fingerprint.cpu()) for numerics, _ in made_by):
        pytest.skip(f"{label} was made on another instruction set ({made_by[0][0]['cpu']})")
    now = fingerprint.measure(framework)["digest"]
    stale = sorted({str(numerics.get("digest")) for numerics, _ in made_by} - {now})
    assert not stale, (
        f"{label} was made by code whose {framework} numerics fingerprint is {', '.join(stale)}; this code's is {now}. "
        f"Remake it: `{command}`, then `python -m examples.report`."
    )


@pytest.mark.parametrize(
    ("name", "framework", "records"), study_results(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_study_was_made_by_this_codes_numerics(name, framework, records):
    assert records, f"results/studies/{name}/{framework} holds no run"
    made_by = [(record.get("numerics", {}), record["versions"]) for record in records]
    check(f"results/studies/{name}/{framework}", framework, made_by, study_command(name, framework, records))


def test_the_demo_was_made_by_this_codes_numerics():
    results = json.loads(DEMO.read_text())
    numerics = results.get("numerics", {"framework": "torch"})
    framework = numerics["framework"]
    command = "python -m examples.demo --out-dir results/demo" + (
        "" if framework == "torch" else f" --framework {framework}"
    )
    check("results/demo", framework, [(numerics, results.get("versions"))], command)


def test_one_ulp_in_a_step_moves_the_fingerprint():
    pytest.importorskip("torch")
    sine_one_ulp_larger = (
        "import layca_core.engine.variants as v; exact = v._cos_sin; "
        "v._cos_sin = lambda rho, xp: (exact(rho, xp)[0], exact(rho, xp)[1] * (1 + 2.0**-23)); "
        "from examples import fingerprint; print(fingerprint.digest('torch'))"
    )
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'adapters'}"}
    result = subprocess.run(
        [sys.executable, "-c", sine_one_ulp_larger], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] != fingerprint.measure("torch")["digest"]

"""The crash-and-resume recipe of ``docs/checkpointing-optax.md``, run as written: a ``SIGKILL`` after a
checkpoint, a new process with another random initialization resumes, and the rotation curves and the
weights equal an uninterrupted run's."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "checkpointing-optax.md"


def recipe() -> str:
    """The Python block of the doc's "Crash and resume" section."""
    section = DOC.read_text().split("## Crash and resume", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def train(script, checkpoint, out, seed, kill_at=-1):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "adapters")])}
    args = [sys.executable, str(script), str(checkpoint), str(out), str(seed), str(kill_at)]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)


def test_a_killed_run_resumes_with_the_uninterrupted_curves_and_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(recipe())
    whole = train(script, tmp_path / "whole.npz", tmp_path / "whole.json", seed=0)
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = train(script, tmp_path / "crash.npz", tmp_path / "crash.json", seed=0, kill_at=23)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "crash.json").exists()
    with np.load(tmp_path / "crash.npz") as data:
        assert int(data["step"]) == 20
    resumed = train(script, tmp_path / "crash.npz", tmp_path / "crash.json", seed=1)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    want, got = (json.loads((tmp_path / f"{run}.json").read_text()) for run in ("whole", "crash"))
    assert got == want
    assert want["steps"] == list(range(0, 41, 5)) and min(want["distances"][-1]) > 0.01
    with np.load(tmp_path / "whole.npz") as a, np.load(tmp_path / "crash.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(b[key], a[key], err_msg=key)

"""The README's quickstarts run exactly as written, each in a fresh process, and its links point at files."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
ADAPTERS = {"layca_torch": ("torch",), "layca_optax": ("jax", "optax"), "layca_keras": ("keras",)}


def adapter(block: str) -> str:
    return next(name for name in ADAPTERS if name in block)


def test_there_is_one_quickstart_per_framework():
    assert sorted(map(adapter, BLOCKS)) == sorted(ADAPTERS)


@pytest.mark.parametrize("block", BLOCKS, ids=adapter)
def test_each_quickstart_runs_as_written_and_trains(block, tmp_path):
    missing = [name for name in (*ADAPTERS[adapter(block)], "matplotlib") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    (tmp_path / "quickstart.py").write_text(block)
    paths = [str(ROOT), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths)), "MPLBACKEND": "Agg"}
    env.setdefault("KERAS_BACKEND", "jax" if importlib.util.find_spec("jax") else "torch")
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "quickstart.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loss = float(re.search(r"loss (\S+),", done.stdout).group(1))
    assert loss < 0.3, done.stdout  # it trained: the toy task's loss starts near log(2) = 0.69
    rotations = [float(d) for d in re.search(r"rotation per layer \[(.*)\]", done.stdout).group(1).split(",")]
    assert len(rotations) == 2 and all(0.05 < d < 1.5 for d in rotations), done.stdout


def test_every_relative_link_of_the_readme_points_at_a_file():
    links = re.findall(r"\]\(((?!https?://)[^)#]+)\)", README)
    assert links and [link for link in links if not (ROOT / link).exists()] == []


def test_the_package_description_shows_the_readmes_quickstarts():
    description = (ROOT / "docs" / "pypi.md").read_text()
    assert re.findall(r"```python\n(.*?)```", description, re.S) == BLOCKS

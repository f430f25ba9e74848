"""Smoke tests: the demo, the experiments and the torch and JAX quickstarts run end to end at small sizes."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

FRAMEWORKS = [pytest.param("torch", id="torch"), pytest.param("jax", id="jax")]


def test_torch_quickstart(tmp_path):
    pytest.importorskip("torch")
    from examples import torch_quickstart

    assert torch_quickstart.main(["--epochs", "3", "--out", str(tmp_path / "r.png")]) > 0.8
    assert (tmp_path / "r.png").stat().st_size > 0


def test_jax_quickstart(tmp_path):
    pytest.importorskip("optax")
    from examples import jax_quickstart

    assert jax_quickstart.main(["--epochs", "3", "--out", str(tmp_path / "r.png")]) > 0.8
    assert (tmp_path / "r.png").stat().st_size > 0


def run_as_plain_script(name, cwd):
    """``python examples/<name>.py`` from another directory: no ``examples`` package on the path."""
    script = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    return subprocess.run([sys.executable, str(script), "--epochs", "1"], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize(("framework", "module"), [("torch", "torch"), ("jax", "optax")])
def test_quickstart_runs_as_a_plain_script_and_writes_under_results(tmp_path, framework, module):
    pytest.importorskip(module)
    result = run_as_plain_script(f"{framework}_quickstart", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p.name for p in tmp_path.rglob("*.png")] == [f"rotation_{framework}.png"]
    assert (tmp_path / "results" / f"rotation_{framework}.png").stat().st_size > 0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_demo_writes_figure_table_and_curves(tmp_path, framework):
    pytest.importorskip("mnist1d")
    from examples import demo

    demo.main(["--framework", framework, "--epochs", "2", "--samples", "1000", "--out-dir", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["framework"] == framework and results["epochs"] == 2
    assert [r["method"] for r in results["runs"]] == ["SGD", "SGD + weight decay", "Adam", "Adam + Layca", "Layca"]
    assert all(0 <= r["test_accuracy"] <= 1 and len(r["final_rotation"]) == 5 for r in results["runs"])
    assert all(len(r["epoch_accuracy"]) == 2 for r in results["runs"])
    assert (tmp_path / "layer_rotation_curves.png").stat().st_size > 0
    assert (tmp_path / "results.md").read_text().count("\n") == 9  # the headline, a blank line, the table
    assert len(list(tmp_path.glob("rotation_*.csv"))) == 5


def test_rule_of_thumb_grid_runs(tmp_path):
    pytest.importorskip("mnist1d")
    from examples import rule_of_thumb

    runs = rule_of_thumb.main(["--epochs", "1", "--samples", "500", "--out-dir", str(tmp_path)])
    assert len(runs) == 16 and (tmp_path / "curves.png").stat().st_size > 0
    assert (tmp_path / "results.md").read_text().count("| Layca alpha=") == 9
    assert len(set(tmp_path.glob("rotation_*.csv"))) == 16  # one file per run: names do not collide


def test_cross_framework_overlay_agrees(tmp_path):
    if importlib.util.find_spec("keras") is None:  # not imported here: Keras runs in its own processes
        pytest.skip("keras is not installed")
    from examples import cross_framework

    differences = cross_framework.main(["--out", str(tmp_path / "overlay.png")])
    assert set(differences) == {
        "PyTorch",
        "JAX/Optax",
        "Keras (tensorflow)",
        "Keras (jax)",
        "Keras (torch)",
        "largest pairwise",
    }
    assert max(differences.values()) < 1e-4 and (tmp_path / "overlay.png").stat().st_size > 0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_features_figure(tmp_path, framework):
    from examples import features

    runs = features.main(["--framework", framework, "--epochs", "2", "--out", str(tmp_path / "f.png")])
    rotations = [run.history.distances[-1][0] for run in runs]
    assert rotations == sorted(rotations, reverse=True)  # the larger the rate, the larger the rotation
    assert all(run.kernels[0].shape == (512, 64) for run in runs)
    assert (tmp_path / "f.png").stat().st_size > 0


def test_warmup_runs_four_settings(tmp_path):
    pytest.importorskip("mnist1d")
    from examples import warmup

    runs = warmup.main(["--epochs", "1", "--samples", "500", "--out", str(tmp_path / "w.png")])
    assert [r.method for r in runs][-1] == "Layca, no warmup" and len(runs) == 4
    assert all(len(r.epoch_accuracy) == 1 and r.history.epochs == [0.0, 1.0] for r in runs)

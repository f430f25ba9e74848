"""Smoke test: the Keras quickstart runs on this process's backend."""

import matplotlib

from tests.examples.test_examples import run_as_plain_script

matplotlib.use("Agg")


def test_keras_quickstart(tmp_path):
    from examples import keras_quickstart

    assert keras_quickstart.main(["--epochs", "3", "--out", str(tmp_path / "r.png")]) > 0.8
    assert (tmp_path / "r.png").stat().st_size > 0


def test_keras_quickstart_runs_as_a_plain_script_and_writes_under_results(tmp_path):
    result = run_as_plain_script("keras_quickstart", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "results" / "rotation_keras.png").stat().st_size > 0

"""Smoke test: the Keras quickstart runs on this process's backend."""

import matplotlib

matplotlib.use("Agg")


def test_keras_quickstart(tmp_path):
    from examples import keras_quickstart

    assert keras_quickstart.main(["--epochs", "3", "--out", str(tmp_path / "r.png")]) > 0.8
    assert (tmp_path / "r.png").stat().st_size > 0

"""The examples on this process's Keras backend: the demo runs, and the trainer runs the experiment torch runs."""

import json

import keras
import matplotlib
import pytest

import layca_core
from examples import experiment
from tests.examples import lm_agreement
from tests.examples import trainer_agreement as agreement

matplotlib.use("Agg")
keras_trainer = experiment.trainer("keras")
torch_trainer = pytest.importorskip("examples.trainers.torch_trainer")


@pytest.mark.parametrize("name", sorted(agreement.NETWORKS))
def test_keras_and_torch_build_the_same_network(name):
    agreement.assert_same_function(keras_trainer, torch_trainer, name)


@pytest.mark.parametrize("method", agreement.METHODS, ids=lambda m: m.name)
def test_keras_and_torch_train_the_same_way(method):
    # Keras's SGD folds the learning rate into its momentum buffer (torch and Optax scale the buffer by it),
    # so the two agree on SGD only while the rate is constant.
    schedule = layca_core.StepDecay(2) if method.optimizer == "sgd" else layca_core.StepDecay(2, (1,), 0.2, 0.5)
    agreement.assert_same_run(keras_trainer, torch_trainer, method, schedule)


@pytest.mark.parametrize("width", [1, 4])
def test_keras_computes_the_language_models_reference_function(width):
    lm_agreement.assert_reference_function(experiment.trainer("keras", "lm"), width)


@pytest.mark.parametrize("method", lm_agreement.METHODS[:2], ids=lambda m: m.name)
def test_keras_and_torch_train_the_language_model_the_same_way(method):
    torch_lm = pytest.importorskip("examples.trainers.torch_lm")
    lm_agreement.assert_same_run(experiment.trainer("keras", "lm"), torch_lm, method)


def test_demo_on_this_backend(tmp_path):
    pytest.importorskip("mnist1d")
    from examples import demo

    demo.main(["--framework", "keras", "--epochs", "2", "--samples", "1000", "--out-dir", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["framework"] == f"keras-{keras.backend.backend()}"
    assert all(0 <= r["test_accuracy"] <= 1 and len(r["final_rotation"]) == 5 for r in results["runs"])
    assert (tmp_path / "layer_rotation_curves.png").stat().st_size > 0


def test_another_keras_backend_needs_a_new_process():
    other = next(b for b in ("tensorflow", "jax", "torch") if b != keras.backend.backend())
    with pytest.raises(RuntimeError, match=f"Keras is already running on {keras.backend.backend()}"):
        experiment.trainer(f"keras-{other}")

"""Check that two frameworks' example trainers run the same experiment (shared by the main and Keras test runs).

Same network function at initialization, and after a short run from the same kernels on the
same batches: the same kernels, curves and losses. SGD at a high rate amplifies float32 rounding most
(9e-5 of the largest entry in the first layer after 16 steps); a wrong schedule or weight decay is off by O(1).
"""

import numpy as np

import layca_core
from examples import experiment, networks
from examples.data import Split

NETWORKS = {
    "cnn": (networks.cnn(8), (1, 40)),
    "resnet": (networks.resnet(2, 8), (1, 40)),
    "mlp": (networks.mlp(64, 32), (64,)),
    "c10_cnn1": (networks.c10_cnn1(2), (3, 32, 32)),
}
METHODS = [
    experiment.sgd("SGD + weight decay", 0.1, weight_decay=5e-3),
    experiment.adam("Adam"),
    experiment.layca("Adam + Layca", 3**-5, base="adam"),
    experiment.layca("Layca alpha", 3**-3, alpha=0.6),
]


def assert_same_function(trainer, other, name: str) -> None:
    network, shape = NETWORKS[name]
    weights = networks.initial_weights(network, seed=1)
    x = np.random.default_rng(2).standard_normal((5, *shape)).astype(np.float32)
    expected = other.predict(network, weights, x)
    np.testing.assert_allclose(trainer.predict(network, weights, x), expected, atol=1e-6 * np.abs(expected).max())


def small_problem(schedule: layca_core.StepDecay, samples: int = 256) -> tuple[Split, experiment.Plan]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((samples, 1, 40)).astype(np.float32)
    y = rng.integers(0, 10, samples)
    data = Split(x[: samples // 2], y[: samples // 2], x[samples // 2 :], y[samples // 2 :])
    return data, experiment.plan(len(data.y_train), 2, 16, schedule)


def assert_same_run(trainer, other, method: experiment.Method, schedule: layca_core.StepDecay) -> None:
    network, _ = NETWORKS["cnn"]
    weights = networks.initial_weights(network)
    data, plan = small_problem(schedule)
    run, expected = (
        trainer.train(network, weights, method, data, plan),
        other.train(network, weights, method, data, plan),
    )
    for kernel, reference in zip(run.kernels, expected.kernels, strict=True):
        np.testing.assert_allclose(kernel, reference, atol=1e-3 * np.abs(reference).max())
    np.testing.assert_allclose(run.history.distances, expected.history.distances, atol=1e-5)
    np.testing.assert_allclose(run.epoch_accuracy, expected.epoch_accuracy, atol=2 / len(data.y_train))
    if not method.weight_decay:  # Keras's loss includes its L2 penalty
        np.testing.assert_allclose(run.epoch_loss, expected.epoch_loss, rtol=1e-4)

"""Check that a framework's language-model trainer computes and trains the model torch does (shared by the main
and Keras test runs): the NumPy reference's logits at widths 1x and 4x, then the same short run."""

import numpy as np

import layca_core
from examples import corpus, experiment, transformer

METHODS = [
    experiment.adamw("AdamW", 3e-3, 0.1),
    experiment.layca("Adam + Layca", 3**-5, base="adam"),
    experiment.layca("Adam + hyperball", 3**-5, base="adam", variant="hyperball"),
]


def assert_reference_function(trainer, width: int) -> None:
    s = transformer.shape(width)
    weights = transformer.initial_weights(s, seed=1)
    tokens = corpus.corpus(8).train[:3, :-1]
    expected = transformer.forward(s, weights, tokens)
    np.testing.assert_allclose(trainer.predict(s, weights, tokens), expected, atol=2e-6 * np.abs(expected).max())


def assert_same_run(trainer, other, method: experiment.Method) -> None:
    """16 steps with warmup and a decay, from the same weights on the same batches."""
    s, data = transformer.shape(), corpus.corpus(128)
    weights = transformer.initial_weights(s)
    plan = experiment.plan(len(data.train), 2, 16, layca_core.StepDecay(2, (1,), 0.2, warmup_epochs=0.5))
    run, expected = trainer.train(s, weights, method, data, plan), other.train(s, weights, method, data, plan)
    assert len(run.history.layer_names) == len(expected.history.layer_names) == 10
    np.testing.assert_allclose(run.history.distances, expected.history.distances, atol=1e-4)
    np.testing.assert_allclose(run.val_losses, expected.val_losses, rtol=1e-4)
    np.testing.assert_allclose(run.epoch_loss, expected.epoch_loss, rtol=1e-4)
    # Keras's Adam adds epsilon before the bias correction (torch and Optax after): a few entries with tiny second
    # moments move by up to 1% of the largest entry after 16 steps, so the kernels are compared as a whole (a
    # wrong rule moves them by O(1)).
    for kernel, reference in zip(run.kernels, expected.kernels, strict=True):
        assert np.linalg.norm(kernel - reference) < 2e-3 * np.linalg.norm(reference)

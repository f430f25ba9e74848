"""Muon and the hyperball rule in Keras: ``Layca(base="muon")``, ``variant="hyperball"``, and ``LaycaWrapper`` over
``keras.optimizers.Muon``, each layer turned by exactly the angle its rule states (docs/algorithm.md)."""

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_core  # noqa: E402
import layca_keras  # noqa: E402
from layca_conformance import reference  # noqa: E402
from tests.layca_keras.test_keras import batches, grads_of, make_model, numpy_weights  # noqa: E402

RATE = 0.1
TOLERANCE = 2e-5  # float32 weights: the angle of a 16x12 layer to a few ulps


def turned(optimizer, apply, steps=2):
    """The layers' weights before and after each of ``steps`` steps, and the gradients of each step."""
    model = make_model()
    trajectory, grads = [numpy_weights(model)], []
    for x, y in batches(count=steps):
        grads.append(grads_of(model, x, y))
        apply(optimizer, grads[-1], model.trainable_variables)
        trajectory.append(numpy_weights(model))
    return trajectory, grads


def test_muon_base_turns_every_layer_by_arctan_rate_and_steps_the_bias_by_adam(apply):
    trajectory, grads = turned(layca_keras.Layca(RATE, base="muon", other_learning_rate=0.01), apply)
    adam = layca_core.direction("adam")
    state = adam.init(grads[0][1])
    for before, after, g in zip(trajectory, trajectory[1:], grads):
        for i in (0, 2):
            assert float(layca_core.step_angle(before[i], after[i])) == pytest.approx(math.atan(RATE), rel=TOLERANCE)
            assert np.linalg.norm(after[i]) == pytest.approx(np.linalg.norm(trajectory[0][i]), rel=1e-6)
        step, state = adam.update(g[1].astype(np.float64), state)
        np.testing.assert_allclose(after[1], before[1] - 0.01 * step, rtol=0, atol=1e-6)


def test_muon_layers_turn_against_the_orthogonalised_momentum(apply):
    trajectory, grads = turned(layca_keras.Layca(RATE, base="muon"), apply, steps=1)
    want = reference.layca_update(
        trajectory[0][0],
        reference.orthogonalize(grads[0][0].astype(np.float64)),
        RATE,
        np.linalg.norm(trajectory[0][0]),
    )
    np.testing.assert_allclose(trajectory[1][0], want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_hyperball_variant_turns_by_its_angle_formula(apply):
    trajectory, grads = turned(layca_keras.Layca(RATE, base="sgd", variant="hyperball"), apply, steps=1)
    for i in (0, 2):
        expected = reference.hyperball_angle(trajectory[0][i], grads[0][i].astype(np.float64), RATE)
        assert float(layca_core.step_angle(trajectory[0][i], trajectory[1][i])) == pytest.approx(
            expected, rel=TOLERANCE
        )
        assert np.linalg.norm(trajectory[1][i]) == pytest.approx(np.linalg.norm(trajectory[0][i]), rel=1e-6)


@pytest.mark.parametrize("variant", ["layca", "hyperball"])
def test_the_wrapper_over_keras_muon_turns_every_layer_by_its_rule(apply, variant):
    inner = keras.optimizers.Muon(learning_rate=0.02, weight_decay=0.0)
    trajectory, _ = turned(layca_keras.LaycaWrapper(inner, learning_rate=RATE, variant=variant), apply)
    for before, after in zip(trajectory, trajectory[1:]):
        for i in (0, 2):
            angle = float(layca_core.step_angle(before[i], after[i]))
            if variant == "layca":
                assert angle == pytest.approx(math.atan(RATE), rel=TOLERANCE)
            else:
                assert 0 < angle < math.pi
            assert np.linalg.norm(after[i]) == pytest.approx(np.linalg.norm(trajectory[0][i]), rel=1e-6)

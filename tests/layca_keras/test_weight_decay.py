"""``weight_decay`` in ``layca_keras.Layca``: Keras's own decoupled decay on the variables that are not layers (as
``keras.optimizers.SGD`` applies it), none on the layers, whose turn and reference norm it leaves alone."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_keras  # noqa: E402

WEIGHT_DECAY = 0.3


def variables():
    rng = np.random.default_rng(0)
    return [
        keras.Variable(rng.standard_normal((6, 4)).astype("float32"), name="kernel"),
        keras.Variable(rng.standard_normal(4).astype("float32"), name="bias"),
    ]


def run(optimizer, steps=3):
    vs = variables()
    rng = np.random.default_rng(1)
    for _ in range(steps):
        grads = [keras.ops.convert_to_tensor(rng.standard_normal(v.shape).astype("float32")) for v in vs]
        optimizer.apply(grads, vs)
    return [keras.ops.convert_to_numpy(v) for v in vs]


def test_other_variables_decay_as_keras_sgd_and_layers_are_left_out():
    decayed = run(layca_keras.Layca(0.1, base="momentum", momentum=0.8, weight_decay=WEIGHT_DECAY))
    plain = run(layca_keras.Layca(0.1, base="momentum", momentum=0.8))
    keras_sgd = run(keras.optimizers.SGD(0.1, momentum=0.8, weight_decay=WEIGHT_DECAY))
    np.testing.assert_allclose(decayed[1], keras_sgd[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(decayed[0], plain[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(decayed[0]), np.linalg.norm(variables()[0].numpy()), rtol=1e-5)


def test_zero_weight_decay_is_accepted_and_serialized():
    optimizer = layca_keras.Layca(weight_decay=0.0)
    assert optimizer.get_config()["weight_decay"] == 0.0
    assert layca_keras.Layca.from_config(optimizer.get_config()).weight_decay == 0.0


def test_a_negative_weight_decay_is_refused():
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        layca_keras.Layca(weight_decay=-1.0)

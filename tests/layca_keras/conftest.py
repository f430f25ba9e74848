"""The ``apply`` fixture of the Keras tests: one optimizer step the way this process's backend runs it in training."""

import pytest


def _jax_apply(optimizer, grads, variables):
    import jax
    import keras

    optimizer.build(variables)
    new_variables, new_state = jax.jit(optimizer.stateless_apply)(
        [v.value for v in optimizer.variables],
        [keras.ops.convert_to_tensor(g) for g in grads],
        [v.value for v in variables],
    )
    for variable, value in zip([*variables, *optimizer.variables], [*new_variables, *new_state]):
        variable.assign(value)


def _tf_apply(optimizer, grads, variables):
    import tensorflow as tf

    optimizer.build(variables)
    grads = [tf.convert_to_tensor(g) for g in grads]
    tf.function(lambda: optimizer.apply(grads, variables))()


def _eager_apply(optimizer, grads, variables):
    import keras

    optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)


@pytest.fixture
def apply():
    """``stateless_apply`` under ``jax.jit`` on JAX, ``apply`` inside ``tf.function`` on TensorFlow, eager ``apply``
    on torch (tensors, as in training)."""
    keras = pytest.importorskip("keras")
    return {"jax": _jax_apply, "tensorflow": _tf_apply}.get(keras.backend.backend(), _eager_apply)

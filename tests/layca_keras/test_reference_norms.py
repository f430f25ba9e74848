"""A layer's reference norm is read at its first step: loading weights after ``build`` keeps them.

Steps run as training runs them on this backend: ``train_on_batch`` (jitted on JAX, a ``tf.function`` on
TensorFlow, eager on torch).
"""

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_core  # noqa: E402
import layca_keras  # noqa: E402
from tests.layca_keras.test_keras import batches, grads_of, make_model, numpy_weights  # noqa: E402

RATE = 0.1
OPTIMIZERS = {
    "Layca": lambda: layca_keras.Layca(RATE, base="momentum"),
    "LaycaWrapper": lambda: layca_keras.LaycaWrapper(keras.optimizers.SGD(0.1, momentum=0.9), learning_rate=RATE),
}


@pytest.fixture(params=sorted(OPTIMIZERS))
def make_optimizer(request):
    return OPTIMIZERS[request.param]


@pytest.fixture
def pretrained(tmp_path):
    """Weights file of a model whose kernels are 3x a fresh model's (norms far from any initialization)."""
    model = make_model(seed=7)
    for variable in model.trainable_variables:
        variable.assign(3.0 * keras.ops.convert_to_numpy(variable))
    path = str(tmp_path / "pretrained.weights.h5")
    model.save_weights(path)
    return path, [np.linalg.norm(w) for w in numpy_weights(model)]


def kernel_norms(model):
    return [np.linalg.norm(w) for w in numpy_weights(model) if w.ndim >= 2]


def step_turns_and_keeps(model, norms):
    """One training step: each kernel turns by arctan(RATE) and ends with the norm given."""
    before = numpy_weights(model)
    model.train_on_batch(*batches()[0])
    after = numpy_weights(model)
    kernels = [(b, a) for b, a in zip(before, after) if b.ndim >= 2]
    assert [float(layca_core.step_angle(b, a)) for b, a in kernels] == pytest.approx([math.atan(RATE)] * 2, rel=1e-4)
    assert kernel_norms(model) == pytest.approx(norms, rel=1e-6)


def test_build_then_load_keeps_the_loaded_norms(make_optimizer, pretrained):
    """Was: the norms of the random initialization (a pretrained layer shrank to a third of its norm)."""
    path, norms = pretrained
    model = make_model()
    model.compile(optimizer=make_optimizer(), loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(path)
    step_turns_and_keeps(model, [norms[0], norms[2]])


def test_load_then_build_keeps_the_loaded_norms(make_optimizer, pretrained):
    path, norms = pretrained
    model = make_model()
    model.load_weights(path)
    model.compile(optimizer=make_optimizer(), loss="mse")
    model.optimizer.build(model.trainable_variables)
    step_turns_and_keeps(model, [norms[0], norms[2]])


def test_fit_then_load_keeps_the_first_norms_until_reset_layer_norms(make_optimizer, pretrained):
    path, norms = pretrained
    model = make_model()
    model.compile(optimizer=make_optimizer(), loss="mse")
    first = kernel_norms(model)
    model.fit(*batches()[1], verbose=0)
    model.load_weights(path)
    step_turns_and_keeps(model, first)
    model.load_weights(path)
    model.optimizer.reset_layer_norms()
    step_turns_and_keeps(model, [norms[0], norms[2]])
    step_turns_and_keeps(model, [norms[0], norms[2]])


def test_a_restored_optimizer_state_supplies_the_norms(make_optimizer, tmp_path):
    model = make_model()
    model.compile(optimizer=make_optimizer(), loss="mse")
    first = kernel_norms(model)
    model.train_on_batch(*batches()[1])
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    restored.set_weights([3.0 * w for w in restored.get_weights()])
    step_turns_and_keeps(restored, first)


def zero_out_kernel(make_optimizer):
    model = make_model()
    model.layers[1].kernel.assign(np.zeros((16, 4), "float32"))
    model.compile(optimizer=make_optimizer(), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


REFUSAL = (
    "all zero: {path}.*must be excluded from the Layca layers.*"
    "leave it out of `layers=` \\(a regex on variable.path or a callable\\)"
)


def test_a_zero_layer_is_refused_at_its_first_step_with_the_way_to_exclude_it(make_optimizer):
    """Keras's JAX trainer donates the model's state to the jitted step, so after the error that state is gone."""
    model = zero_out_kernel(make_optimizer)
    with pytest.raises(Exception, match=REFUSAL.format(path=model.layers[1].kernel.path)):
        model.train_on_batch(*batches()[0])


def test_a_layer_zeroed_mid_run_is_refused_by_name_when_its_norm_is_read_again(make_optimizer):
    """Weights replaced mid-run (``reset_layer_norms``, as after loading others) with an all-zero layer: the step
    that reads the norms refuses it (inside the jitted step on JAX), and costs nothing before."""
    model = make_model()
    model.compile(optimizer=make_optimizer(), loss="mse")
    model.fit(*batches()[1], verbose=0)
    model.layers[1].kernel.assign(np.zeros((16, 4), "float32"))
    model.optimizer.reset_layer_norms()
    with pytest.raises(Exception, match=REFUSAL.format(path=model.layers[1].kernel.path)):
        model.train_on_batch(*batches()[0])


def assert_refused_without_a_trace(model, apply):
    """``apply`` of the model's next gradients is refused, naming its ``out`` kernel, and changes no weight and no
    optimizer variable."""
    weights, state = numpy_weights(model), [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    grads = grads_of(model, *batches()[0])
    with pytest.raises(Exception, match=REFUSAL.format(path=model.layers[1].kernel.path)):
        apply(model.optimizer, grads, model.trainable_variables)
    for got, want in zip(numpy_weights(model), weights):
        np.testing.assert_array_equal(got, want)
    for variable, want in zip(model.optimizer.variables, state):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), want)


def zeroed_after_a_step(step):
    """A model whose ``out`` kernel is set to zero after one ``step`` stored every norm."""
    if keras.backend.backend() != "jax":
        pytest.skip("a layer set to zero after its norm is stored is refused by the XLA executor (Keras on JAX)")
    model = make_model()
    model.compile(optimizer=layca_keras.Layca(RATE, base="momentum"), loss="mse")
    step(model)
    model.layers[1].kernel.assign(np.zeros((16, 4), "float32"))
    return model


def test_a_layer_zeroed_after_its_norm_is_stored_is_refused_by_the_jitted_train_step():
    """The stored norm is not read again; the step's ``|w|^2`` finds the layer zero and the jitted step (one
    ``lax.cond`` whose branch checks on the host) refuses it by name, instead of leaving it unchanged."""
    model = zeroed_after_a_step(lambda model: model.train_on_batch(*batches()[1]))
    with pytest.raises(Exception, match=REFUSAL.format(path=model.layers[1].kernel.path)):
        model.train_on_batch(*batches()[0])


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_a_layer_zeroed_after_its_norm_is_stored_is_refused_and_the_step_changes_nothing(apply, jit):
    apply = apply if jit else lambda optimizer, grads, variables: optimizer.apply(grads, variables)
    model = zeroed_after_a_step(lambda model: apply(model.optimizer, grads_of(model, *batches()[1]), model.weights))
    assert_refused_without_a_trace(model, apply)


def test_a_refused_step_changes_nothing(make_optimizer, apply):
    model = zero_out_kernel(make_optimizer)
    assert_refused_without_a_trace(model, apply)


def test_a_zero_layer_left_out_of_layers_takes_the_plain_step():
    model = make_model()
    model.layers[1].kernel.assign(np.zeros((16, 4), "float32"))
    model.compile(optimizer=layca_keras.Layca(RATE, layers=lambda v: len(v.shape) >= 2 and "out" not in v.path))
    model.compile(optimizer=model.optimizer, loss="mse")
    model.train_on_batch(*batches()[0])
    assert np.linalg.norm(numpy_weights(model)[2]) > 0


def test_a_variable_the_optimizer_was_not_built_with_gets_keras_own_error():
    model, other = make_model(), make_model(seed=3)
    optimizer = layca_keras.Layca(RATE)
    optimizer.build(model.trainable_variables)
    with pytest.raises(ValueError, match="Unknown variable"):
        optimizer.apply(grads_of(other, *batches()[0]), other.trainable_variables)

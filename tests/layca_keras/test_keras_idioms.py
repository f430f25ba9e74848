"""Keras's own optimizer checks (``keras/src/optimizers/optimizer_test.py``), on Layca, on this process's backend.

Each test takes ``apply``, one step the way this backend runs it in a training loop: ``stateless_apply`` under
``jax.jit`` on JAX, ``apply`` inside ``tf.function`` on TensorFlow, eager ``apply`` on torch (tensors, as in
training: Keras's ``global_clipnorm`` on torch fails on NumPy gradients for its own SGD too). Not applicable here:
complex weights (Keras optimizers have none) and Keras's exact-number checks of a plain SGD step (Layca turns a
layer by a fixed angle, so each test states the angle, the kept norm or the plain step of the non-layer variables).
"""

import inspect
import json
import math
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_core  # noqa: E402
import layca_keras  # noqa: E402
from tests.base_values import in_words  # noqa: E402
from tests.layca_keras.test_keras import batches, grads_of, make_model, numpy_weights  # noqa: E402

BACKEND = keras.backend.backend()
RATE = 0.1


def angle(before, after):
    return float(layca_core.step_angle(before, after))


def test_a_lazily_built_model_reads_initial_norms_at_its_first_step():
    """No keras.Input: TensorFlow builds the model and the optimizer inside the first traced train step."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4, use_bias=False)])
    model.compile(optimizer=layca_keras.Layca(RATE, base="momentum"), loss="mse")
    (x, y), (x2, y2) = batches(count=2)
    model.train_on_batch(x, y)
    after_one = numpy_weights(model)
    norms = [float(keras.ops.convert_to_numpy(s)) for s in model.optimizer._init_norms.slots if s is not None]
    assert norms == pytest.approx([np.linalg.norm(after_one[0]), np.linalg.norm(after_one[2])], rel=1e-6)
    model.train_on_batch(x2, y2)
    after_two = numpy_weights(model)
    assert angle(after_one[0], after_two[0]) == pytest.approx(math.atan(RATE), rel=1e-4)
    assert np.linalg.norm(after_two[2]) == pytest.approx(norms[1], rel=1e-6)


class Kernels(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(keras.ops.convert_to_numpy(self.model.trainable_variables[0]).astype(np.float64))


@pytest.mark.parametrize("wrapped", [False, True], ids=["Layca", "LaycaWrapper"])
def test_a_lazily_built_model_in_fit_turns_by_arctan_rate_and_keeps_its_initial_norm(wrapped):
    """The initializer is seeded, so the test knows the weights TensorFlow creates inside the first step."""
    initializer = keras.initializers.GlorotNormal(seed=3)
    initial = keras.ops.convert_to_numpy(initializer((12, 16))).astype(np.float64)
    model = keras.Sequential(
        [keras.layers.Dense(16, "relu", kernel_initializer=initializer), keras.layers.Dense(4, use_bias=False)]
    )
    optimizer = (
        layca_keras.LaycaWrapper(keras.optimizers.Adam(1e-3), learning_rate=RATE, alpha=0.0)
        if wrapped
        else layca_keras.Layca(RATE, base="adam", alpha=0.0)
    )
    model.compile(optimizer=optimizer, loss="mse")
    kernels = Kernels()
    x = np.concatenate([b[0] for b in batches(count=2)])
    y = np.concatenate([b[1] for b in batches(count=2)])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[kernels])
    first, second = kernels.seen
    assert angle(initial, first) == pytest.approx(math.atan(RATE), rel=1e-4)
    assert angle(first, second) == pytest.approx(math.atan(RATE), rel=1e-4)
    assert [np.linalg.norm(first), np.linalg.norm(second)] == pytest.approx([np.linalg.norm(initial)] * 2, rel=1e-6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="JAX and torch build a lazy model before fit's callbacks start")
def test_the_monitor_asks_for_a_built_model_where_tensorflow_builds_it_inside_the_first_step():
    model = keras.Sequential([keras.layers.Dense(4)])
    model.compile(optimizer=layca_keras.Layca(RATE), loss="mse")
    with pytest.raises(ValueError, match="RotationMonitor needs the model's weights before the first step"):
        model.fit(*batches()[0], verbose=0, callbacks=[layca_keras.RotationMonitor()])


def test_a_lazily_built_all_zero_layer_is_refused_by_name():
    model = keras.Sequential([keras.layers.Dense(4, kernel_initializer="zeros", name="flat")])
    model.compile(optimizer=layca_keras.Layca(RATE), loss="mse")
    x, y = batches()[0]
    with pytest.raises(Exception, match="Layca cannot rotate a layer whose weights are all zero: .*flat/kernel"):
        model.train_on_batch(x, y)


def test_loss_scaling_matches_the_unscaled_step_and_skips_non_finite_gradients(apply):
    scaled_model, plain_model = make_model(), make_model()
    scaled = keras.optimizers.LossScaleOptimizer(layca_keras.Layca(RATE, base="adam"), initial_scale=2.0**10)
    plain = layca_keras.Layca(RATE, base="adam")
    for x, y in batches(count=2):
        grads = grads_of(plain_model, x, y)
        apply(scaled, [g * 2.0**10 for g in grads], scaled_model.trainable_variables)
        apply(plain, grads, plain_model.trainable_variables)
    for a, b in zip(numpy_weights(scaled_model), numpy_weights(plain_model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    before = numpy_weights(scaled_model)
    poisoned = [np.full(v.shape, np.inf, "float32") for v in scaled_model.trainable_variables]
    apply(scaled, poisoned, scaled_model.trainable_variables)
    for a, b in zip(numpy_weights(scaled_model), before):
        np.testing.assert_array_equal(a, b)
    assert float(keras.ops.convert_to_numpy(scaled.dynamic_scale)) == 2.0**9


def test_mixed_float16_wraps_layca_in_loss_scaling_and_turns_float32_layers():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = make_model()
        model.compile(optimizer=layca_keras.Layca(RATE), loss="mse")
    finally:
        keras.config.set_dtype_policy("float32")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, layca_keras.Layca)
    before = numpy_weights(model)
    model.train_on_batch(*batches()[0])
    after = numpy_weights(model)
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert angle(before[0], after[0]) == pytest.approx(math.atan(RATE), rel=1e-3)


@pytest.mark.xfail(
    BACKEND == "jax",
    strict=True,
    reason="Keras's LossScaleOptimizer.apply, called eagerly on JAX, raises UnexpectedTracerError for "
    "keras.optimizers.SGD too; fit and stateless_apply (above) work",
)
def test_loss_scaling_eager_apply():
    model = make_model()
    optimizer = keras.optimizers.LossScaleOptimizer(layca_keras.Layca(RATE))
    before = numpy_weights(model)
    x, y = batches()[0]
    optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads_of(model, x, y)], model.trainable_variables)
    assert angle(before[0], numpy_weights(model)[0]) == pytest.approx(math.atan(RATE), rel=1e-4)


def test_loss_scaling_in_fit():
    model = make_model()
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(layca_keras.Layca(RATE)), loss="mse")
    before = numpy_weights(model)
    x, y = batches()[0]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = numpy_weights(model)
    assert angle(before[0], after[0]) == pytest.approx(math.atan(RATE), rel=1e-4)


def test_ema_averages_the_layca_trajectory_and_overwrites(apply):
    model = make_model()
    optimizer = layca_keras.Layca(RATE, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=3)
    data, kernels = batches(count=3), []
    for x, y in data[:2]:
        apply(optimizer, grads_of(model, x, y), model.trainable_variables)
        kernels.append(numpy_weights(model)[0])
    moving = keras.ops.convert_to_numpy(optimizer._model_variables_moving_average[0])
    np.testing.assert_allclose(moving, 0.9 * kernels[0] + 0.1 * kernels[1], rtol=1e-5, atol=1e-6)
    assert angle(kernels[0], kernels[1]) == pytest.approx(math.atan(RATE), rel=1e-4)
    apply(optimizer, grads_of(model, *data[2]), model.trainable_variables)
    overwritten = keras.ops.convert_to_numpy(optimizer._model_variables_moving_average[0])
    assert not np.allclose(overwritten, moving)
    np.testing.assert_allclose(numpy_weights(model)[0], overwritten, rtol=1e-6, atol=1e-7)  # every 3rd step


def test_ema_in_fit_leaves_the_averaged_weights():
    model = make_model()
    model.compile(optimizer=layca_keras.Layca(RATE, use_ema=True, ema_momentum=0.5), loss="mse")
    x = np.concatenate([b[0] for b in batches()])
    y = np.concatenate([b[1] for b in batches()])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    average = keras.ops.convert_to_numpy(model.optimizer._model_variables_moving_average[0])
    np.testing.assert_allclose(numpy_weights(model)[0], average, rtol=1e-6, atol=1e-7)


def test_gradient_accumulation_takes_one_layca_step_on_the_mean_gradient(apply):
    accumulated, single = make_model(), make_model()
    optimizer = layca_keras.Layca(RATE, base="momentum", gradient_accumulation_steps=2, other_learning_rate=0.5)
    reference = layca_keras.Layca(RATE, base="momentum", other_learning_rate=0.5)
    (x1, y1), (x2, y2) = batches(count=2)
    g1, g2 = grads_of(accumulated, x1, y1), grads_of(accumulated, x2, y2)
    before = numpy_weights(accumulated)
    apply(optimizer, g1, accumulated.trainable_variables)
    for a, b in zip(numpy_weights(accumulated), before):
        np.testing.assert_array_equal(a, b)
    apply(optimizer, g2, accumulated.trainable_variables)
    apply(reference, [(a + b) / 2 for a, b in zip(g1, g2)], single.trainable_variables)
    for a, b in zip(numpy_weights(accumulated), numpy_weights(single)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 1


@pytest.mark.parametrize("clip", [{"clipnorm": 1e-3}, {"global_clipnorm": 1e-3}, {"clipvalue": 1e-4}])
def test_clipping_reaches_other_variables_and_layers_still_turn_by_arctan_rate(apply, clip):
    model = make_model()
    optimizer = layca_keras.Layca(RATE, other_learning_rate=1.0, **clip)
    x, y = batches()[0]
    grads = grads_of(model, x, y)
    before = numpy_weights(model)
    apply(optimizer, grads, model.trainable_variables)
    after = numpy_weights(model)
    assert angle(before[0], after[0]) == pytest.approx(math.atan(RATE), rel=1e-4)
    bias_step = before[1] - after[1]
    if "clipvalue" in clip:
        np.testing.assert_allclose(bias_step, np.clip(grads[1], -1e-4, 1e-4), rtol=1e-4, atol=1e-9)
    else:
        assert np.linalg.norm(bias_step) <= 1e-3 * (1 + 1e-4) < np.linalg.norm(grads[1])


def test_constraints_are_applied_after_the_turn(apply):
    model = make_model()
    model.layers[0].kernel.constraint = keras.constraints.NonNeg()
    x, y = batches()[0]
    apply(layca_keras.Layca(RATE), grads_of(model, x, y), model.trainable_variables)
    assert numpy_weights(model)[0].min() >= 0.0


def test_iterations_count_and_a_callable_learning_rate_is_read_each_step():
    """Eager steps: the callable is Python, read once per ``apply`` (a traced step would read it once)."""
    model = make_model()
    rates = iter([0.2, 0.05])
    optimizer = layca_keras.Layca(lambda: next(rates), alpha=0.0)
    for want, (x, y) in zip([0.2, 0.05], batches(count=2)):
        before = numpy_weights(model)[2]
        optimizer.apply(grads_of(model, x, y), model.trainable_variables)
        assert angle(before, numpy_weights(model)[2]) == pytest.approx(math.atan(want), rel=1e-4)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 2


def test_instances_get_unique_names_as_keras_optimizers_do():
    first, second = layca_keras.Layca(), layca_keras.Layca()
    wrappers = layca_keras.LaycaWrapper(keras.optimizers.SGD()), layca_keras.LaycaWrapper(keras.optimizers.SGD())
    assert first.name.startswith("layca") and first.name != second.name
    assert wrappers[0].name.startswith("layca_wrapper") and wrappers[0].name != wrappers[1].name
    assert layca_keras.Layca(name="mine").name == "mine"


def test_hyperparameter_names_cover_every_core_hyperparameter_in_keras_words():
    core_names = {name for factory in layca_core.DIRECTIONS.values() for name in inspect.signature(factory).parameters}
    assert set(layca_keras.HYPERPARAMETER_NAMES.values()) == core_names
    assert {"beta_1", "beta_2", "epsilon", "rho", "initial_accumulator_value"} <= set(layca_keras.HYPERPARAMETER_NAMES)


ALL_HYPERPARAMETERS = in_words(layca_keras.HYPERPARAMETER_NAMES)


@pytest.mark.parametrize("base", sorted(ALL_HYPERPARAMETERS))
def test_config_serialize_and_pickle_round_trips_name_the_layca_package(base):
    optimizer = layca_keras.Layca(
        0.05, base=base, alpha=-0.2, layers="kernel", other_learning_rate=0.01, clipnorm=2.0, use_ema=True,
        gradient_accumulation_steps=3, **ALL_HYPERPARAMETERS[base],
    )  # fmt: skip
    config = optimizer.get_config()
    assert layca_keras.Layca.from_config(config).get_config() == config
    serialized = keras.optimizers.serialize(optimizer)
    assert serialized["registered_name"] == "layca>Layca"
    restored = keras.optimizers.deserialize(serialized)
    assert isinstance(restored, layca_keras.Layca) and restored.get_config() == config
    assert pickle.loads(pickle.dumps(optimizer)).get_config() == config
    assert restored.base_hyperparameters == ALL_HYPERPARAMETERS[base]


def test_wrapper_config_round_trip_names_the_layca_package():
    wrapper = layca_keras.LaycaWrapper(keras.optimizers.Adam(1e-3), learning_rate=0.02, alpha=0.1, layers="kernel")
    serialized = keras.optimizers.serialize(wrapper)
    assert serialized["registered_name"] == "layca>LaycaWrapper"
    restored = keras.optimizers.deserialize(serialized)
    assert isinstance(restored.inner_optimizer, keras.optimizers.Adam)
    assert restored.get_config() == wrapper.get_config()


def test_weights_only_checkpoint_starts_a_new_optimizer_from_the_loaded_norms(tmp_path):
    trained = make_model()
    trained.compile(optimizer=layca_keras.Layca(RATE), loss="mse")
    x, y = batches()[0]
    trained.train_on_batch(x, y)
    trained.save_weights(tmp_path / "model.weights.h5")
    resumed = make_model(seed=5)
    resumed.load_weights(tmp_path / "model.weights.h5")
    resumed.compile(optimizer=layca_keras.Layca(RATE), loss="mse")
    before = numpy_weights(resumed)
    resumed.train_on_batch(x, y)
    after = numpy_weights(resumed)
    assert angle(before[0], after[0]) == pytest.approx(math.atan(RATE), rel=1e-4)
    assert np.linalg.norm(after[2]) == pytest.approx(np.linalg.norm(numpy_weights(trained)[2]), rel=1e-6)


def test_saved_model_names_layca_and_load_model_finds_it_after_the_import(tmp_path):
    model = make_model()
    model.compile(optimizer=layca_keras.Layca(RATE), loss="mse")
    model.train_on_batch(*batches()[0])  # an unbuilt optimizer is saved without its slots (Keras's Adam too)
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        optimizer_config = json.loads(archive.read("config.json"))["compile_config"]["optimizer"]
    assert optimizer_config["registered_name"] == "layca>Layca"
    load = f"import keras; keras.saving.load_model({str(tmp_path / 'model.keras')!r})"
    env = {**os.environ, "KERAS_BACKEND": BACKEND}
    without = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, env=env, timeout=120)
    assert without.returncode != 0 and "layca>Layca" in without.stderr
    assert isinstance(keras.saving.load_model(tmp_path / "model.keras").optimizer, layca_keras.Layca)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.train.Checkpoint and raw tf.Variable are TensorFlow's")
def test_tf_checkpoint_restores_layca_state(tmp_path):
    import tensorflow as tf

    model = make_model()
    model.compile(optimizer=layca_keras.Layca(RATE, base="adam"), loss="mse")
    data = batches(count=3)
    model.train_on_batch(*data[0])
    saved = tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(str(tmp_path / "ckpt"))
    model.train_on_batch(*data[1])
    expected = numpy_weights(model)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).restore(saved)
    model.train_on_batch(*data[1])
    for a, b in zip(numpy_weights(model), expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="raw tf.Variable exists on TensorFlow only")
def test_raw_tf_variables_are_layers_selected_by_name():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    raw = tf.Variable(rng.standard_normal((3, 2)).astype("float32"), name="raw_kernel")
    other = tf.Variable(rng.standard_normal((3, 2)).astype("float32"), name="raw_other")
    keras_variable = keras.Variable(rng.standard_normal((4, 2)).astype("float32"))
    before = [v.numpy() for v in (raw, other, keras_variable)]
    optimizer = layca_keras.Layca(RATE, layers="kernel|variable", freeze_others=True)
    grads = [tf.constant(rng.standard_normal(v.shape).astype("float32")) for v in (raw, other, keras_variable)]
    optimizer.apply_gradients(zip(grads, [raw, other, keras_variable]))
    assert angle(before[0], raw.numpy()) == pytest.approx(math.atan(RATE), rel=1e-4)
    np.testing.assert_array_equal(other.numpy(), before[1])
    assert angle(before[2], keras_variable.numpy()) == pytest.approx(math.atan(RATE), rel=1e-4)


@pytest.mark.parametrize("wrapped", [False, True], ids=["Layca", "LaycaWrapper"])
def test_float64_gradients_with_weight_decay_are_cast_to_the_variables(apply, wrapped):
    model = make_model()
    optimizer = (
        layca_keras.LaycaWrapper(keras.optimizers.SGD(0.1, weight_decay=0.01), learning_rate=RATE)
        if wrapped
        else layca_keras.Layca(RATE, base="momentum", weight_decay=0.01)
    )
    x, y = batches()[0]
    before = numpy_weights(model)
    apply(optimizer, [g.astype("float64") for g in grads_of(model, x, y)], model.trainable_variables)
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert angle(before[0], numpy_weights(model)[0]) == pytest.approx(math.atan(RATE), rel=1e-4)

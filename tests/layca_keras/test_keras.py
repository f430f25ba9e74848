"""layca_keras on the backend of this process (KERAS_BACKEND): core parity, fit, saving, callback."""

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_core  # noqa: E402
import layca_keras  # noqa: E402

BACKEND = keras.backend.backend()


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(4, use_bias=False, name="out"),
        ]
    )


def batches(seed=1, count=4):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((8, 12)).astype("float32"), rng.standard_normal((8, 4)).astype("float32"))
        for _ in range(count)
    ]


def grads_of(model, x, y):
    """Gradients of the mean squared error, by hand (the same on every backend)."""
    w1, b1, w2 = (keras.ops.convert_to_numpy(v).astype(np.float64) for v in model.trainable_variables)
    h_pre = x @ w1 + b1
    h = np.maximum(h_pre, 0)
    d_out = 2 * (h @ w2 - y) / y.size
    d_h = (d_out @ w2.T) * (h_pre > 0)
    return [(x.T @ d_h).astype("float32"), d_h.sum(0).astype("float32"), (h.T @ d_out).astype("float32")]


def numpy_weights(model):
    return [keras.ops.convert_to_numpy(v).astype(np.float64) for v in model.trainable_variables]


@pytest.mark.parametrize("base", ["sgd", "momentum", "adam", "adagrad"])
def test_matches_the_core_step_by_step(base):
    model = make_model()
    optimizer = layca_keras.Layca(0.1, base=base, alpha=0.3, other_learning_rate=0.01)
    optimizer.build(model.trainable_variables)
    params = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    plan = layca_core.engine.LayerPlan.from_flags([p.ndim >= 2 for p in params], alpha=0.3)
    direction = layca_core.direction(base)
    states, norms = [direction.init(p) for p in params], layca_core.engine.optimizer.initial_norms(params, plan)
    for x, y in batches():
        grads = grads_of(model, x, y)
        optimizer.apply(grads, model.trainable_variables)
        params, states = layca_core.engine.optimizer_step(
            params, grads, states, norms, 0.1, plan, base=direction, other_rate=0.01
        )
        for got, want in zip(numpy_weights(model), params):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_per_layer_angles_follow_alpha():
    model = make_model()
    before = numpy_weights(model)
    optimizer = layca_keras.Layca(0.2, alpha=-0.5)
    x, y = batches()[0]
    optimizer.apply(grads_of(model, x, y), model.trainable_variables)
    after = numpy_weights(model)
    assert float(layca_core.step_angle(before[0], after[0])) == pytest.approx(math.atan(0.2), rel=1e-5)
    assert float(layca_core.step_angle(before[2], after[2])) == pytest.approx(math.atan(0.2 * 0.5**5), rel=1e-4)
    assert np.linalg.norm(after[2]) == pytest.approx(np.linalg.norm(before[2]), rel=1e-6)


def test_fit_learns_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
            keras.layers.Dense(10, kernel_initializer="he_normal"),
        ]
    )
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([200], [3**-3, 3**-4])
    model.compile(
        optimizer=layca_keras.Layca(schedule, base="momentum", momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, batch_size=64, epochs=10, verbose=0, shuffle=True)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9


def test_saved_model_resumes_with_identical_results(tmp_path):
    data = batches(count=6)
    model = make_model()
    model.compile(optimizer=layca_keras.Layca(0.1, base="adam", alpha=0.2), loss="mse")
    for x, y in data[:3]:
        model.train_on_batch(x, y)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(restored.optimizer, layca_keras.Layca) and restored.optimizer.alpha == 0.2
    for x, y in data[3:]:
        model.train_on_batch(x, y)
        restored.train_on_batch(x, y)
    for a, b in zip(numpy_weights(model), numpy_weights(restored)):
        np.testing.assert_array_equal(a, b)


def test_config_round_trip():
    optimizer = layca_keras.Layca(
        0.05, base="nesterov", momentum=0.8, alpha=-0.2, layers=r"kernel", freeze_others=True, clipnorm=1.0
    )
    clone = layca_keras.Layca.from_config(optimizer.get_config())
    assert (clone.base, clone.alpha, clone.layers, clone.freeze_others, clone.clipnorm) == (
        "nesterov",
        -0.2,
        "kernel",
        True,
        1.0,
    )
    assert clone.base_hyperparameters == {"momentum": 0.8}
    with pytest.raises(ValueError, match="callable `layers` cannot be serialized"):
        layca_keras.Layca(layers=lambda v: True).get_config()


def test_selection_freeze_and_other_learning_rate():
    model = make_model()
    bias_before = numpy_weights(model)[1]
    optimizer = layca_keras.Layca(0.1, layers=r"/hidden/kernel$", freeze_others=True)
    x, y = batches()[0]
    before = numpy_weights(model)
    optimizer.apply(grads_of(model, x, y), model.trainable_variables)
    after = numpy_weights(model)
    np.testing.assert_array_equal(after[1], bias_before)
    np.testing.assert_array_equal(after[2], before[2])
    model = make_model()
    optimizer = layca_keras.Layca(0.1, other_learning_rate=0.5)
    grads = grads_of(model, x, y)
    before = numpy_weights(model)
    optimizer.apply(grads, model.trainable_variables)
    np.testing.assert_allclose(numpy_weights(model)[1], before[1] - 0.5 * grads[1], rtol=1e-6, atol=1e-7)


def test_user_errors_are_explained():
    """(A zero layer is refused at its first step: tests/layca_keras/test_reference_norms.py.)"""
    with pytest.raises(ValueError, match="Unknown base 'adamw'"):
        layca_keras.Layca(base="adamw")
    with pytest.raises(TypeError, match="Base 'adam' takes beta_1, beta_2, epsilon; got momentum"):
        layca_keras.Layca(base="adam", momentum=0.9)
    with pytest.raises(ValueError, match="Base 'adam' needs 0 <= beta_1 < 1; got beta_1=1.5"):
        layca_keras.Layca(base="adam", beta_1=1.5)
    for core, word in [("b1", "beta_1"), ("b2", "beta_2"), ("eps", "epsilon")]:
        with pytest.raises(TypeError, match=f"Keras calls the base hyperparameter '{core}' '{word}'"):
            layca_keras.Layca(base="adam", **{core: 0.5})
    with pytest.raises(TypeError, match="'initial_accumulator' 'initial_accumulator_value'"):
        layca_keras.Layca(base="adagrad", initial_accumulator=0.1)
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        layca_keras.Layca(-1.0)


def test_callback_records_rotation_into_logs_and_history():
    model = make_model()
    model.compile(optimizer=layca_keras.Layca(0.1), loss="mse")
    curves = layca_keras.RotationMonitor(every_n_batches=2)
    x = np.concatenate([b[0] for b in batches()])
    y = np.concatenate([b[1] for b in batches()])
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[curves])
    names = curves.history.layer_names
    assert names == tuple(layer.kernel.path for layer in model.layers)
    assert curves.history.distances[0] == [0.0, 0.0]
    assert curves.history.epochs == [0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0]
    final = curves.history.distances[-1]
    assert [history.history[f"rotation/{n}"][-1] for n in names] == pytest.approx(final)
    assert all(0 < d < 1 for d in final)
    assert curves.plot().get_lines()


def test_wrapping_plain_sgd_is_layca_sgd():
    wrapped, layca = make_model(), make_model()
    wrapper = layca_keras.LaycaWrapper(keras.optimizers.SGD(0.5), learning_rate=0.1, alpha=-0.3)
    optimizer = layca_keras.Layca(
        0.1, alpha=-0.3, other_learning_rate=0.5
    )  # the bias: plain SGD, as inside the wrapper
    wrapper.build(wrapped.trainable_variables)
    for x, y in batches(count=3):
        wrapper.apply(grads_of(wrapped, x, y), wrapped.trainable_variables)
        optimizer.apply(grads_of(layca, x, y), layca.trainable_variables)
    for a, b in zip(numpy_weights(wrapped), numpy_weights(layca)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_wrapping_adamw_in_fit_turns_layers_by_arctan_rate_and_saves(tmp_path):
    model = make_model()
    model.compile(
        optimizer=layca_keras.LaycaWrapper(keras.optimizers.AdamW(1e-3, weight_decay=0.1), learning_rate=0.05),
        loss="mse",
    )
    before = numpy_weights(model)
    x, y = batches()[0]
    model.train_on_batch(x, y)
    after = numpy_weights(model)
    assert float(layca_core.step_angle(before[0], after[0])) == pytest.approx(math.atan(0.05), rel=1e-4)
    assert np.linalg.norm(after[2]) == pytest.approx(np.linalg.norm(before[2]), rel=1e-6)
    assert not np.array_equal(after[1], before[1])
    model.save(tmp_path / "wrapped.keras")
    restored = keras.saving.load_model(tmp_path / "wrapped.keras")
    assert isinstance(restored.optimizer.inner_optimizer, keras.optimizers.AdamW)
    model.train_on_batch(x, y)
    restored.train_on_batch(x, y)
    for a, b in zip(numpy_weights(model), numpy_weights(restored)):
        np.testing.assert_array_equal(a, b)


def test_a_decaying_momentum_keeps_turning_the_layer():
    """Gradients become exactly zero; the momentum decays for hundreds of steps (was inf at ~320)."""
    model = make_model()
    optimizer = layca_keras.Layca(0.1, base="momentum", momentum=0.9)
    rng = np.random.default_rng(3)
    zeros = [np.zeros(v.shape, "float32") for v in model.trainable_variables]
    for t in range(400):
        before = numpy_weights(model)[0]
        noise = [(rng.standard_normal(v.shape) * 1e-3).astype("float32") for v in model.trainable_variables]
        optimizer.apply(noise if t < 5 else zeros, model.trainable_variables)
    after = numpy_weights(model)[0]
    assert np.isfinite(after).all()
    angle = float(layca_core.step_angle(before.astype(np.float64), after.astype(np.float64)))
    assert angle == pytest.approx(math.atan(0.1), rel=1e-4)


def test_gradients_are_cast_to_the_variable_dtype():
    model = make_model()
    optimizer = layca_keras.Layca(0.1, base="momentum", momentum=0.9)
    x, y = batches()[0]
    optimizer.apply([g.astype("float64") for g in grads_of(model, x, y)], model.trainable_variables)
    assert all(np.isfinite(w).all() for w in numpy_weights(model))


EXECUTOR = {"torch": "TorchExecutor", "jax": "XlaExecutor", "tensorflow": "ReferenceExecutor"}
"""The executor a 200x100 layer takes on each backend: importing layca_keras registers the backend's own (torch's
multi-tensor executor, the XLA one), TensorFlow takes the core's reference executor."""


def test_the_backend_s_own_executors_turn_its_layers():
    from layca_core import engine

    w = keras.ops.convert_to_tensor(np.ones((200, 100), "float32"))
    ((executor, part),) = engine.executors_for(layca_core.array_namespace(w), [w])
    assert (type(executor).__name__, part) == (EXECUTOR[BACKEND], [0])

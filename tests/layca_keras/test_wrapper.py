"""``LaycaWrapper``: the gradients it cleans, its default rate, and the rate rule under schedules."""

import inspect
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_core  # noqa: E402
import layca_keras  # noqa: E402
from tests.layca_keras.test_keras import batches, grads_of, make_model, numpy_weights  # noqa: E402

schedules = keras.optimizers.schedules


def test_the_default_rate_is_the_documented_one():
    rate = layca_keras.LaycaWrapper(keras.optimizers.SGD()).learning_rate
    assert float(keras.ops.convert_to_numpy(rate)) == pytest.approx(3**-3)
    assert "default 3^-3" in inspect.getdoc(layca_keras.LaycaWrapper)


def test_non_finite_layer_gradients_are_zeroed_before_the_inner_step(apply):
    """As in layca_torch.LaycaWrapper: Adam's moments stay finite, and the step is the cleaned gradient's."""
    poisoned, clean = make_model(), make_model()
    grads = grads_of(poisoned, *batches()[0])
    bad = [g.copy() for g in grads]
    bad[0][0, 0], bad[2][1, 1] = np.nan, np.inf
    cleaned = [g.copy() for g in bad]
    cleaned[0][0, 0] = cleaned[2][1, 1] = 0.0
    optimizers = [layca_keras.LaycaWrapper(keras.optimizers.Adam(1e-3), learning_rate=0.1) for _ in range(2)]
    apply(optimizers[0], bad, poisoned.trainable_variables)
    apply(optimizers[1], cleaned, clean.trainable_variables)
    assert all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in optimizers[0].variables)
    for got, want in zip(numpy_weights(poisoned), numpy_weights(clean)):
        np.testing.assert_array_equal(got, want)


class Angles(keras.callbacks.Callback):
    """The first kernel's angle at every step of ``fit``."""

    def on_train_begin(self, logs=None):
        self.kernel, self.angles = self.first_kernel(), []

    def on_train_batch_end(self, batch, logs=None):
        kernel = self.first_kernel()
        self.angles.append(float(layca_core.step_angle(self.kernel, kernel)))
        self.kernel = kernel

    def first_kernel(self):
        return numpy_weights(self.model)[0]


def fit_angles(optimizer, epochs=1, callbacks=()):
    model = make_model()
    model.compile(optimizer=optimizer, loss="mse")
    angles = Angles()
    x = np.concatenate([b[0] for b in batches()])
    y = np.concatenate([b[1] for b in batches()])
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[angles, *callbacks])
    return angles.angles


def test_a_schedule_on_the_wrapper_is_the_rotation_rate_and_its_peak_the_rate_asked():
    schedule = schedules.CosineDecay(0.0, decay_steps=4, warmup_target=0.2, warmup_steps=2)
    angles = fit_angles(layca_keras.LaycaWrapper(keras.optimizers.Adam(1e-3), learning_rate=schedule))
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in range(4)]
    assert max(rates) == pytest.approx(0.2)
    assert angles == pytest.approx([math.atan(r) for r in rates], rel=1e-4, abs=1e-6)


def test_a_learning_rate_callback_schedules_the_wrapper_rotation():
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, rate: 0.1 * 0.5**epoch)
    angles = fit_angles(layca_keras.LaycaWrapper(keras.optimizers.SGD(0.5), learning_rate=0.3), 2, [scheduler])
    assert angles == pytest.approx([math.atan(0.1)] * 4 + [math.atan(0.05)] * 4, rel=1e-4)


@pytest.mark.parametrize(
    "inner_rate",
    [
        schedules.ExponentialDecay(1e-2, decay_steps=1, decay_rate=0.1),
        schedules.CosineDecay(1e-3, 4, warmup_target=1.0, warmup_steps=2),
    ],
    ids=["decay", "warmup"],
)
def test_a_schedule_on_the_inner_optimizer_leaves_the_rotation_at_the_rate_asked(inner_rate):
    inner = keras.optimizers.AdamW(inner_rate, weight_decay=0.1)
    angles = fit_angles(layca_keras.LaycaWrapper(inner, learning_rate=0.1))
    assert angles == pytest.approx([math.atan(0.1)] * 4, rel=1e-4)

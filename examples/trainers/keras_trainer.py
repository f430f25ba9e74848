"""Keras 3 (this process's backend): an ``examples.networks`` network trained by ``fit`` along a ``Plan``.

Keras works channels-last: kernels are PyTorch's laid out as ``(*window, in, out)``, inputs as
(batch, *space, channels), and ``Flatten`` reads channels first, so the network computes the
same function as in PyTorch. Weight decay is an L2 penalty of ``weight_decay / 2`` (the
gradient torch's SGD adds), not Keras's decoupled ``weight_decay``.
"""

import keras
import numpy as np

import layca_keras
from examples import networks
from examples.experiment import Method, Plan, Run, progress

layers = keras.layers


def _channels_last(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, *range(2, x.ndim), 1) if x.ndim > 2 else x


def _keras_kernel(w: np.ndarray) -> np.ndarray:
    """PyTorch's (out, in, *window) as Keras's (*window, in, out)."""
    return w.transpose(*range(2, w.ndim), 1, 0)


def _torch_kernel(w: np.ndarray) -> np.ndarray:
    return w.transpose(w.ndim - 1, w.ndim - 2, *range(w.ndim - 2))


def build(
    network: tuple, weights: list[np.ndarray], input_shape: tuple, weight_decay: float = 0.0
) -> tuple[keras.Model, list[keras.layers.Layer]]:
    """The model and its kernel layers in the network's order; ``input_shape`` is one sample's, in PyTorch's layout."""
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    kernel_layers = []

    def run(ops: tuple, x):
        for op in ops:
            match op:
                case networks.Conv():
                    kernel_layers.append(
                        layers.Conv1D(op.outputs, op.width, op.stride, use_bias=False, kernel_regularizer=regularizer)
                    )
                    x = kernel_layers[-1](layers.ZeroPadding1D(op.width // 2)(x))
                case networks.Conv2d():
                    kernel_layers.append(
                        layers.Conv2D(op.outputs, op.width, use_bias=False, kernel_regularizer=regularizer)
                    )
                    x = kernel_layers[-1](layers.ZeroPadding2D(op.width // 2)(x))
                case networks.MaxPool2d():
                    x = layers.MaxPooling2D(op.size)(x)
                case networks.Dense():
                    kernel_layers.append(layers.Dense(op.outputs, use_bias=False, kernel_regularizer=regularizer))
                    x = kernel_layers[-1](x)
                case networks.BatchNorm() | networks.BatchNorm2d():
                    x = layers.BatchNormalization(
                        momentum=1 - networks.MOMENTUM, epsilon=networks.EPS, center=False, scale=False
                    )(x)
                case networks.ReLU():
                    x = layers.ReLU()(x)
                case networks.Flatten():
                    rank = len(x.shape) - 1  # channels last
                    x = layers.Flatten()(layers.Permute((rank, *range(1, rank)))(x))
                case networks.GlobalAveragePool():
                    x = layers.GlobalAveragePooling1D()(x)
                case networks.Residual():
                    x = layers.ReLU()(layers.Add()([x, run(op.body, x)]))
        return x

    inputs = keras.Input(_channels_last(np.empty((1, *input_shape))).shape[1:])
    model = keras.Model(inputs, run(network, inputs))
    for layer, w in zip(kernel_layers, weights, strict=True):
        layer.kernel.assign(_keras_kernel(w))
    return model, kernel_layers


def predict(network: tuple, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the network in evaluation mode."""
    model, _ = build(network, weights, x.shape[1:])
    return keras.ops.convert_to_numpy(model(_channels_last(x), training=False))


class _PlanSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``lr`` times the plan's multiplier of the current step."""

    def __init__(self, lr: float, multipliers: np.ndarray) -> None:
        self.lr, self.multipliers = lr, multipliers

    def __call__(self, step):
        index = keras.ops.minimum(keras.ops.cast(step, "int32"), len(self.multipliers) - 1)
        return self.lr * keras.ops.take(keras.ops.convert_to_tensor(self.multipliers), index)


def _optimizer(method: Method, multipliers: np.ndarray) -> keras.optimizers.Optimizer:
    schedule = _PlanSchedule(method.lr, multipliers)
    if method.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=method.momentum)
    if method.optimizer == "adam":
        return keras.optimizers.Adam(schedule, epsilon=1e-8)
    return layca_keras.Layca(schedule, base=method.base, alpha=method.alpha)


class _Progress(keras.callbacks.Callback):
    def __init__(self, bar) -> None:
        super().__init__()
        self.bar = bar

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.bar.update()


def train(network: tuple, weights: list[np.ndarray], method: Method, data, plan: Plan) -> Run:
    x, y, x_test, y_test = data
    x, x_test = _channels_last(x), _channels_last(x_test)
    model, kernel_layers = build(network, weights, data[0].shape[1:], method.weight_decay)
    model.compile(
        optimizer=_optimizer(method, plan.multipliers),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batches = ((x[batch], y[batch]) for epoch in plan.epochs for batch in epoch)
    monitor = layca_keras.RotationMonitor()
    with progress(len(plan.epochs), method.name) as bar:
        fitted = model.fit(
            batches,
            epochs=len(plan.epochs),
            steps_per_epoch=plan.steps_per_epoch,
            shuffle=False,
            verbose=0,
            callbacks=[monitor, _Progress(bar)],
        )
    accuracy = lambda a, b: float(model.evaluate(a, b, batch_size=1024, verbose=0)[1])
    kernels = [_torch_kernel(keras.ops.convert_to_numpy(layer.kernel)) for layer in kernel_layers]
    history = fitted.history
    return Run(
        method.name,
        accuracy(x_test, y_test),
        accuracy(x, y),
        history["accuracy"],
        monitor.history,
        kernels,
        history["loss"],
    )

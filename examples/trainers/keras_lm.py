"""Keras 3 (this process's backend): the ``examples.transformer`` language model, trained by ``fit``.

One layer holds the matrices of ``examples.transformer.layers`` in PyTorch's ``(out, in)`` layout and computes
the same function with ``keras.ops``; the rotation monitor and Layca see the same layers as in torch and JAX.
"""

import math

import keras
import numpy as np
from keras import ops

import layca_keras
from examples import transformer
from examples.experiment import Method, Plan, progress
from examples.transformer import LMRun, Shape


class TransformerLayer(keras.layers.Layer):
    """Token ids ``(batch, time)`` to logits ``(batch, time, vocab)``."""

    def __init__(self, s: Shape, weights: list[np.ndarray], **kwargs) -> None:
        super().__init__(**kwargs)
        self.shape_ = s
        self.matrices = [
            self.add_weight(shape=shape, initializer=keras.initializers.Constant(w), name=name.replace(".", "_"))
            for (name, shape), w in zip(transformer.layers(s), weights, strict=True)
        ]
        self.positions = transformer.positions(s)

    def _norm(self, x):
        mean = ops.mean(x, axis=-1, keepdims=True)
        return (x - mean) / ops.sqrt(ops.var(x, axis=-1, keepdims=True) + transformer.EPS)

    def call(self, tokens):
        s = self.shape_
        embed, *blocks, head = self.matrices
        time = tokens.shape[1]
        # a one-hot product, not a gather: TensorFlow's sparse gradient of a gather takes another Adam path
        positions = ops.convert_to_tensor(self.positions[:time])
        x = ops.matmul(ops.one_hot(ops.cast(tokens, "int32"), s.vocab), embed) + positions
        future = ops.convert_to_tensor(np.triu(np.ones((time, time), dtype=bool), 1))
        split = lambda a: ops.transpose(ops.reshape(a, (-1, time, s.heads, s.head_width)), (0, 2, 1, 3))
        for qkv, out, up, down in zip(*[iter(blocks)] * 4):
            q, k, v = (split(a) for a in ops.split(ops.matmul(self._norm(x), ops.transpose(qkv)), 3, axis=-1))
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(s.head_width)
            attended = ops.matmul(ops.softmax(ops.where(future, -np.inf, scores), axis=-1), v)
            merged = ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (-1, time, s.width))
            x = x + ops.matmul(merged, ops.transpose(out))
            x = x + ops.matmul(ops.relu(ops.matmul(self._norm(x), ops.transpose(up))), ops.transpose(down))
        return ops.matmul(self._norm(x), ops.transpose(head))


def build(s: Shape, weights: list[np.ndarray], time: int) -> keras.Model:
    tokens = keras.Input((time,), dtype="int32")
    return keras.Model(tokens, TransformerLayer(s, weights)(tokens))


def predict(s: Shape, weights: list[np.ndarray], tokens: np.ndarray) -> np.ndarray:
    return ops.convert_to_numpy(build(s, weights, tokens.shape[1])(tokens))


class _PlanSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``lr`` times the plan's multiplier of the current step."""

    def __init__(self, lr: float, multipliers: np.ndarray) -> None:
        self.lr, self.multipliers = lr, multipliers

    def __call__(self, step):
        index = ops.minimum(ops.cast(step, "int32"), len(self.multipliers) - 1)
        return self.lr * ops.take(ops.convert_to_tensor(self.multipliers), index)


def _every_matrix(variable: keras.Variable) -> bool:
    """The study's layers: every matrix, the embedding and the head included (the default selection leaves those two
    out; the study was fixed before that default)."""
    return len(variable.shape) >= 2


def _optimizer(method: Method, multipliers: np.ndarray) -> keras.optimizers.Optimizer:
    schedule = _PlanSchedule(method.lr, multipliers)
    if method.optimizer == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=method.weight_decay, epsilon=1e-8)
    if method.optimizer == "layca":
        return layca_keras.Layca(schedule, base=method.base, variant=method.variant, layers=_every_matrix)
    raise ValueError(f"method optimizer must be adamw or layca in the Keras language model; got {method.optimizer!r}.")


class _Validation(keras.callbacks.Callback):
    """The validation loss after every epoch (and before the first), and the progress bar."""

    def __init__(self, windows: np.ndarray, bar) -> None:
        super().__init__()
        self.windows, self.bar, self.losses = windows, bar, []

    def measure(self) -> float:
        return float(self.model.evaluate(self.windows[:, :-1], self.windows[:, 1:], batch_size=1024, verbose=0))

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.losses.append(self.measure())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.losses.append(self.measure())
        self.bar.update()


def train(s: Shape, weights: list[np.ndarray], method: Method, data, plan: Plan) -> LMRun:
    """As the torch trainer: validation loss and rotation after every epoch."""
    model = build(s, weights, s.context)
    model.compile(
        optimizer=_optimizer(method, plan.multipliers),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    windows = data.train
    batches = ((windows[b, :-1], windows[b, 1:]) for epoch in plan.epochs for b in epoch)
    monitor = layca_keras.RotationMonitor(layers=_every_matrix)
    with progress(len(plan.epochs), method.name) as bar:
        validation = _Validation(data.validation, bar)
        fitted = model.fit(
            batches,
            epochs=len(plan.epochs),
            steps_per_epoch=plan.steps_per_epoch,
            shuffle=False,
            verbose=0,
            callbacks=[validation, monitor],
        )
    logits = ops.convert_to_numpy(model(data.validation[:, :-1]))
    accuracy = float((logits.argmax(-1) == data.validation[:, 1:]).mean())
    kernels = [ops.convert_to_numpy(m) for m in model.layers[-1].matrices]
    losses = validation.losses
    return LMRun(method.name, losses[-1], accuracy, fitted.history["loss"], losses, monitor.history, kernels)

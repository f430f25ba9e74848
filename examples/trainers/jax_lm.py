"""JAX/Optax: the ``examples.transformer`` language model as a pure function, trained with a ``Method``.

Parameters are the list of matrices of ``examples.transformer.layers`` (PyTorch's layout), as in the torch trainer.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

import layca_optax
from examples import transformer
from examples.experiment import Method, Plan, progress
from examples.transformer import LMRun, Shape


def _norm(x: jax.Array) -> jax.Array:
    return (x - x.mean(-1, keepdims=True)) / jnp.sqrt(x.var(-1, keepdims=True) + transformer.EPS)


def forward(s: Shape, params: list, tokens: jax.Array) -> jax.Array:
    """Logits ``(batch, time, vocab)``."""
    embed, *blocks, head = params
    batch, time = tokens.shape
    x = embed[tokens] + jnp.asarray(transformer.positions(s))[:time]
    future = jnp.triu(jnp.ones((time, time), dtype=bool), 1)
    for qkv, out, up, down in zip(*[iter(blocks)] * 4):
        q, k, v = jnp.split(_norm(x) @ qkv.T, 3, axis=-1)
        q, k, v = (a.reshape(batch, time, s.heads, s.head_width).transpose(0, 2, 1, 3) for a in (q, k, v))
        scores = jnp.where(future, -jnp.inf, q @ k.transpose(0, 1, 3, 2) / math.sqrt(s.head_width))
        attended = jax.nn.softmax(scores, axis=-1) @ v
        x = x + attended.transpose(0, 2, 1, 3).reshape(batch, time, s.width) @ out.T
        x = x + jax.nn.relu(_norm(x) @ up.T) @ down.T
    return _norm(x) @ head.T


def predict(s: Shape, weights: list[np.ndarray], tokens: np.ndarray) -> np.ndarray:
    return np.asarray(forward(s, [jnp.asarray(w) for w in weights], jnp.asarray(tokens)))


def _every_matrix(params: list) -> list[bool]:
    """The study's layers: every matrix, the embedding and the head included (the default selection leaves those two
    out; the study was fixed before that default)."""
    return [p.ndim >= 2 for p in params]


def _optimizer(method: Method, multipliers: np.ndarray) -> optax.GradientTransformation:
    table = jnp.asarray(multipliers)
    schedule = lambda count: method.lr * table[jnp.minimum(count, len(table) - 1)]
    if method.optimizer == "adamw":
        return optax.adamw(schedule, eps=1e-8, weight_decay=method.weight_decay)
    if method.optimizer == "layca":
        return layca_optax.layca(schedule, base=method.base, variant=method.variant, layers=_every_matrix)
    raise ValueError(f"method optimizer must be adamw or layca in the JAX language model; got {method.optimizer!r}.")


def _losses(s: Shape, params: list, windows: jax.Array) -> tuple[jax.Array, jax.Array]:
    logits = forward(s, params, windows[:, :-1])
    targets = windows[:, 1:]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()
    return loss, (logits.argmax(-1) == targets).mean()


def train(s: Shape, weights: list[np.ndarray], method: Method, data, plan: Plan) -> LMRun:
    """As the torch trainer: validation loss and rotation after every epoch."""
    optimizer = _optimizer(method, plan.multipliers)
    params = [jnp.asarray(w) for w in weights]
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, windows):
        value, grads = jax.value_and_grad(lambda p: _losses(s, p, windows)[0])(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    evaluate = jax.jit(lambda params, windows: _losses(s, params, windows))
    monitor = layca_optax.RotationMonitor(params, layers=_every_matrix)
    monitor.record(params, step=0, epoch=0)
    train_windows, validation = jnp.asarray(data.train), jnp.asarray(data.validation)
    count, epoch_loss, val_losses = 0, [], [float(evaluate(params, validation)[0])]
    with progress(len(plan.epochs), method.name) as bar:
        for epoch, batches in enumerate(plan.epochs, 1):
            total = 0.0
            for batch in batches:
                params, state, value = step(params, state, train_windows[batch])
                total += float(value) * len(batch)
            count += len(batches)
            epoch_loss.append(total / len(train_windows))
            val_losses.append(float(evaluate(params, validation)[0]))
            monitor.record(params, step=count, epoch=epoch)
            bar.update()
    val_loss, val_accuracy = (float(v) for v in evaluate(params, validation))
    kernels = [np.asarray(p) for p in params]
    return LMRun(method.name, val_loss, val_accuracy, epoch_loss, val_losses, monitor.history, kernels)

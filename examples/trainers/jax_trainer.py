"""JAX/Optax: an ``examples.networks`` network as a pure function, trained with a ``Method`` along a ``Plan``.

Parameters are the list of kernels (PyTorch's layout); batch-norm running statistics are a list
of (mean, variance) pairs, updated as PyTorch does (unbiased variance, momentum 0.1).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import layca_optax
from examples import networks
from examples.experiment import Method, Plan, Run, progress


def _batch_norm(x: jax.Array, statistics: tuple, train: bool) -> tuple[jax.Array, tuple]:
    axes = (0, *range(2, x.ndim))
    if train:
        mean, var = x.mean(axes), x.var(axes)
        n, m = x.size // x.shape[1], networks.MOMENTUM
        statistics = ((1 - m) * statistics[0] + m * mean, (1 - m) * statistics[1] + m * var * n / (n - 1))
    else:
        mean, var = statistics
    shape = (1, -1, *[1] * (x.ndim - 2))
    return (x - mean.reshape(shape)) / jnp.sqrt(var.reshape(shape) + networks.EPS), statistics


def forward(network: tuple, params: list, statistics: list, x: jax.Array, train: bool) -> tuple[jax.Array, list]:
    """Logits, and the running statistics after this batch (unchanged when ``train`` is False)."""
    kernels, old, new = iter(params), iter(statistics), []

    def run(ops: tuple, x: jax.Array) -> jax.Array:
        for op in ops:
            match op:
                case networks.Conv():
                    pad = [(op.width // 2, op.width // 2)]
                    x = jax.lax.conv_general_dilated(
                        x, next(kernels), (op.stride,), pad, dimension_numbers=("NCH", "OIH", "NCH")
                    )
                case networks.Conv2d():
                    pad = [(op.width // 2, op.width // 2)] * 2
                    x = jax.lax.conv_general_dilated(
                        x, next(kernels), (1, 1), pad, dimension_numbers=("NCHW", "OIHW", "NCHW")
                    )
                case networks.MaxPool2d():
                    window = (1, 1, op.size, op.size)
                    x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")
                case networks.Dense():
                    x = x @ next(kernels).T
                case networks.BatchNorm() | networks.BatchNorm2d():
                    x, updated = _batch_norm(x, next(old), train)
                    new.append(updated)
                case networks.ReLU():
                    x = jax.nn.relu(x)
                case networks.Flatten():
                    x = x.reshape(len(x), -1)
                case networks.GlobalAveragePool():
                    x = x.mean(axis=2)
                case networks.Residual():
                    x = jax.nn.relu(x + run(op.body, x))
        return x

    return run(network, x), new


def _initial_statistics(network: tuple) -> list:
    return [
        (jnp.zeros(op.channels), jnp.ones(op.channels))
        for op in networks.operations(network)
        if isinstance(op, (networks.BatchNorm, networks.BatchNorm2d))
    ]


def predict(network: tuple, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the network in evaluation mode."""
    params = [jnp.asarray(w) for w in weights]
    return np.asarray(forward(network, params, _initial_statistics(network), jnp.asarray(x), False)[0])


def _optimizer(method: Method, multipliers: np.ndarray) -> optax.GradientTransformation:
    table = jnp.asarray(multipliers)
    schedule = lambda count: method.lr * table[jnp.minimum(count, len(table) - 1)]
    if method.optimizer == "sgd":
        momentum = method.momentum or None
        return optax.chain(optax.add_decayed_weights(method.weight_decay), optax.sgd(schedule, momentum=momentum))
    if method.optimizer == "adam":
        return optax.adam(schedule)
    return layca_optax.layca(schedule, base=method.base, alpha=method.alpha)


def train(network: tuple, weights: list[np.ndarray], method: Method, data, plan: Plan) -> Run:
    optimizer = _optimizer(method, plan.multipliers)
    params, statistics = [jnp.asarray(w) for w in weights], _initial_statistics(network)
    state = optimizer.init(params)

    @jax.jit
    def train_step(params, statistics, state, xb, yb):
        def loss(p):
            logits, updated = forward(network, p, statistics, xb, True)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), (updated, logits)

        (value, (statistics, logits)), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, state = optimizer.update(grads, state, params)
        hits = (logits.argmax(1) == yb).sum()
        return optax.apply_updates(params, updates), statistics, state, hits, value * len(yb)

    @jax.jit
    def accuracy(params, statistics, x, y):
        return (forward(network, params, statistics, x, False)[0].argmax(1) == y).mean()

    monitor = layca_optax.RotationMonitor(params)
    monitor.record(params, step=0, epoch=0)
    x, y, x_test, y_test = data
    step, epoch_accuracy, epoch_loss = 0, [], []
    with progress(len(plan.epochs), method.name) as bar:
        for epoch, batches in enumerate(plan.epochs, 1):
            correct, total_loss = 0, 0.0
            for batch in batches:
                params, statistics, state, hits, loss = train_step(params, statistics, state, x[batch], y[batch])
                correct, total_loss = correct + hits, total_loss + loss
            step += len(batches)
            epoch_accuracy.append(int(correct) / len(y))
            epoch_loss.append(float(total_loss) / len(y))
            monitor.record(params, step=step, epoch=epoch)
            bar.update()
    return Run(
        method.name,
        float(accuracy(params, statistics, x_test, y_test)),
        float(accuracy(params, statistics, x, y)),
        epoch_accuracy,
        monitor.history,
        [np.asarray(p) for p in params],
        epoch_loss,
    )

"""JAX/Optax quickstart: an MLP on scikit-learn's digits with Layca and the rotation monitor.

python examples/jax_quickstart.py [--epochs 20] [--out results/rotation_jax.png]
"""

import argparse
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import layca_optax


def digits() -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits in [0, 1], shuffled once: 2/3 for training, 1/3 for testing."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y, cut = (x[order] / 16).astype(np.float32), y[order], 2 * len(y) // 3
    return x[:cut], y[:cut], x[cut:], y[cut:]


def forward(params, x):
    return (
        jax.nn.relu(x @ params["hidden"]["kernel"] + params["hidden"]["bias"]) @ params["out"]["kernel"]
        + params["out"]["bias"]
    )


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("results/rotation_jax.png"))
    args = parser.parse_args(argv)

    x, y, x_test, y_test = digits()
    k1, k2 = jax.random.split(jax.random.key(0))
    params = {  # He init: Layca keeps these norms, and without BN they set the output scale
        "hidden": {"kernel": jax.random.normal(k1, (64, 128)) * math.sqrt(2 / 64), "bias": jnp.zeros(128)},
        "out": {"kernel": jax.random.normal(k2, (128, 10)) * math.sqrt(2 / 128), "bias": jnp.zeros(10)},
    }
    steps_per_epoch = math.ceil(len(y) / 64)
    schedule = optax.piecewise_constant_schedule(3**-3, {int(0.8 * args.epochs) * steps_per_epoch: 0.2})
    optimizer = layca_optax.layca(schedule, base="momentum", momentum=0.9)
    state = optimizer.init(params)
    monitor = layca_optax.RotationMonitor(params)
    monitor.record(params, step=0, epoch=0)

    @jax.jit
    def train_step(params, state, xb, yb):
        loss_fn = lambda p: optax.softmax_cross_entropy_with_integer_labels(forward(p, xb), yb).mean()
        updates, state = optimizer.update(jax.grad(loss_fn)(params), state, params)
        return optax.apply_updates(params, updates), state

    rng, step = np.random.default_rng(0), 0
    for epoch in range(1, args.epochs + 1):
        for batch in np.array_split(rng.permutation(len(y)), steps_per_epoch):
            params, state = train_step(params, state, x[batch], y[batch])
            step += 1
        monitor.record(params, step=step, epoch=epoch)

    accuracy = float((forward(params, x_test).argmax(1) == y_test).mean())
    print(
        f"test accuracy {accuracy:.3f}; final rotation {dict(zip(monitor.history.layer_names, monitor.history.distances[-1]))}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    monitor.plot(title="JAX + Layca").figure.savefig(args.out, dpi=100)
    return accuracy


if __name__ == "__main__":
    main()

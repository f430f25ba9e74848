"""Keras 3 quickstart (any backend): an MLP on scikit-learn's digits with Layca and the rotation callback.

KERAS_BACKEND=jax python examples/keras_quickstart.py [--epochs 20] [--out results/rotation_keras.png]
"""

import argparse
import math
from pathlib import Path

import keras
import numpy as np
from sklearn.datasets import load_digits

import layca_keras


def digits() -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits in [0, 1], shuffled once: 2/3 for training, 1/3 for testing."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y, cut = (x[order] / 16).astype(np.float32), y[order], 2 * len(y) // 3
    return x[:cut], y[:cut], x[cut:], y[cut:]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("results/rotation_keras.png"))
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    x, y, x_test, y_test = digits()
    model = keras.Sequential(  # He init: Layca keeps these norms, and without BN they set the output scale
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
            keras.layers.Dense(10, kernel_initializer="he_normal"),
        ]
    )
    steps_per_epoch = math.ceil(len(y) / 64)
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [int(0.8 * args.epochs) * steps_per_epoch], [3**-3, 3**-3 * 0.2]
    )
    model.compile(
        optimizer=layca_keras.Layca(schedule, base="momentum", momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    monitor = layca_keras.RotationMonitor()
    model.fit(x, y, batch_size=64, epochs=args.epochs, verbose=0, callbacks=[monitor])

    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    print(
        f"test accuracy {accuracy:.3f}; final rotation {dict(zip(monitor.history.layer_names, monitor.history.distances[-1]))}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    monitor.plot(title=f"Keras ({keras.backend.backend()}) + Layca").figure.savefig(args.out, dpi=100)
    return accuracy


if __name__ == "__main__":
    main()

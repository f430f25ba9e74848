"""Keras 3 quickstart (any backend): an MLP on scikit-learn's digits with Layca and the rotation callback.

KERAS_BACKEND=jax python -m examples.keras_quickstart [--epochs 20] [--out rotation_keras.png]
"""

import argparse
import math

import keras

import layca_keras
from examples.data import digits


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="rotation_keras.png")
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
    curves = layca_keras.LayerRotationCurves()
    model.fit(x, y, batch_size=64, epochs=args.epochs, verbose=0, callbacks=[curves])

    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    print(
        f"test accuracy {accuracy:.3f}; final rotation {dict(zip(curves.history.layer_names, curves.history.distances[-1]))}"
    )
    curves.plot(title=f"Keras ({keras.backend.backend()}) + Layca").figure.savefig(args.out, dpi=100)
    return accuracy


if __name__ == "__main__":
    main()

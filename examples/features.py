"""Layer rotation and learned features (paper Section 6) on scikit-learn's 8x8 digits, in any framework.

A one-hidden-layer MLP (overparameterized: 512 hidden units, no biases, 50 samples per class)
trained from one He initialization with four Layca rates. The input weights of a few hidden
units are 8x8 images: larger rotations move them further from their random initialization.

    python -m examples.features [--framework torch|jax|keras-jax|...] [--epochs 60] [--out results/features.png]
"""

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import layca_core  # noqa: E402
from examples import experiment, networks  # noqa: E402
from examples.data import digits  # noqa: E402
from examples.experiment import Run, layca  # noqa: E402

RATES = (3.0**-2, 3.0**-3, 3.0**-4, 3.0**-5)
UNITS = (0, 1, 2, 3, 4)


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    experiment.add_framework_argument(parser)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("results/features.png"))
    args = parser.parse_args(argv)
    trainer = experiment.trainer(args.framework)
    data, network = digits(samples_per_class=50), networks.mlp()
    weights = networks.initial_weights(network, init="he")
    plan = experiment.plan(
        len(data.y_train), args.epochs, 32, layca_core.StepDecay(args.epochs, (int(0.8 * args.epochs),), 0.2)
    )
    runs = [trainer.train(network, weights, layca(f"3^{round(math.log(r, 3))}", r), data, plan) for r in RATES]
    figure, axes = plt.subplots(
        len(RATES) + 1, len(UNITS), figsize=(1.4 * len(UNITS), 1.5 * (len(RATES) + 1)), layout="constrained"
    )
    rows = [("initialization", weights[0])] + [
        (f"{run.method}\n{100 * run.test_accuracy:.1f}%, d={run.history.distances[-1][0]:.2f}", run.kernels[0])
        for run in runs
    ]
    for row_axes, (caption, kernel) in zip(axes, rows):
        for ax, unit in zip(row_axes, UNITS):
            ax.imshow(kernel[unit].reshape(8, 8), cmap="gray")
            ax.set_xticks([]), ax.set_yticks([])
        row_axes[0].set_ylabel(caption, fontsize=7)
    figure.suptitle(experiment.framework_label(args.framework), fontsize=8)
    for run in runs:
        print(
            f"rate {run.method}: test accuracy {run.test_accuracy:.3f}, first-layer rotation {run.history.distances[-1][0]:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    return runs


if __name__ == "__main__":
    main()

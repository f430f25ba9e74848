"""Warmup (paper Section 5.3) on MNIST-1D, in any framework: SGD at a high rate with and without warmup, and Layca without.

A residual 1-D CNN (8 blocks, batch norm without affine parameters, no biases), SGD with
momentum at learning rate 1.0 and a linear warmup from 1/10 over 0, 2 or 5 epochs (per batch,
``layca_core.StepDecay``), against Layca (rate 3^-3) with no warmup. Writes rotation curves
and training-accuracy curves.

    python -m examples.warmup [--framework torch|jax|keras-jax|...] [--epochs 15] [--out results/warmup.png]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import layca_core  # noqa: E402
from examples import experiment, networks  # noqa: E402
from examples.data import mnist1d  # noqa: E402
from examples.experiment import Run, layca, sgd  # noqa: E402
from layca_core.plotting import layer_colorbar  # noqa: E402

WARMUP_EPOCHS = (0, 2, 5)


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    experiment.add_framework_argument(parser)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=Path("results/warmup.png"))
    args = parser.parse_args(argv)
    trainer = experiment.trainer(args.framework)
    data, network = mnist1d(args.samples), networks.resnet()
    weights = networks.initial_weights(network)
    settings = [(sgd(f"SGD, {k} warmup epochs", 1.0), k) for k in WARMUP_EPOCHS] + [
        (layca("Layca, no warmup", 3**-3), 0)
    ]
    runs = []
    for method, warmup_epochs in settings:
        schedule = layca_core.StepDecay(args.epochs, warmup_epochs=warmup_epochs)
        runs.append(
            trainer.train(
                network, weights, method, data, experiment.plan(len(data.y_train), args.epochs, 128, schedule)
            )
        )
        print(f"{method.name:>22}: training accuracy per epoch {[round(a, 2) for a in runs[-1].epoch_accuracy]}")
    figure, axes = plt.subplots(2, len(runs), figsize=(3.2 * len(runs), 5.2), layout="constrained")
    for column, run in enumerate(runs):
        layca_core.plot_layer_rotation(run.history, ax=axes[0, column], title=run.method, colorbar=False)
        axes[1, column].plot(range(1, args.epochs + 1), run.epoch_accuracy)
        axes[1, column].set(ylim=(0, 1), xlabel="epoch", ylabel="training accuracy")
    layer_colorbar(list(axes[0]), pad=0.01, fraction=0.02)
    figure.suptitle(experiment.framework_label(args.framework))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=100)
    return runs


if __name__ == "__main__":
    main()

"""The paper's rule of thumb at small scale (Sections 4 and 5) on MNIST-1D, in any framework.

Layca over alpha in {-0.6, 0, 0.6} and rates {3^-3, 3^-4, 3^-5}; plain SGD over a learning-rate
grid; SGD + weight decay; Adam with and without Layca. All from one initialization on the same
batches, step decay x0.2 at 70% and 90% of training. Writes the curves (one panel per run) and a
results table.

    python -m examples.rule_of_thumb [--framework torch|jax|keras-jax|...] [--epochs 30] [--samples 4000]
"""

import argparse
from pathlib import Path

from examples import demo, experiment
from examples.experiment import Method, Run, adam, layca, sgd


def methods() -> list[Method]:
    grid = [layca(f"Layca alpha={a:+.1f} rate=3^-{k}", 3.0**-k, alpha=a) for k in (3, 4, 5) for a in (-0.6, 0.0, 0.6)]
    grid += [sgd(f"SGD lr={lr:g}", lr) for lr in (0.3, 0.1, 0.03, 0.01)]
    return grid + [
        sgd("SGD + weight decay", 0.1, weight_decay=5e-3),
        adam("Adam"),
        layca("Adam + Layca", 3**-5, base="adam"),
    ]


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    experiment.add_framework_argument(parser)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--out-dir", type=Path, default=Path("results/rule_of_thumb"))
    parser.set_defaults(seed=0)
    return demo.train_and_report(parser.parse_args(argv), methods(), "curves.png", columns=4)


if __name__ == "__main__":
    main()

"""The main demo: layer rotation curves of five training methods on MNIST-1D, in any framework.

Trains one small batch-normalized 1-D CNN (no biases, BN without affine parameters, as in the
paper) with plain SGD, SGD + weight decay, Adam, Adam + Layca and Layca (SGD), from the same
initialization and on the same batches, and writes the layer rotation curves of every run side
by side (the layout of the paper's Figure 1), a results table in markdown and JSON, and the
curves as CSV. 4,000 samples (3,200 for training) for 100 epochs: with fewer samples the task is
hard enough for the methods to separate (with 10,000 all reach 98.7-99.3%).

The run is pinned to one thread (the thread count changes the order of float32 sums, and so a single run's
numbers), so that it gives the committed ``results/demo/results.json`` on any machine with the same packages;
each test accuracy is printed beside the ``mnist1d-100`` study's 95% interval for the same method (over seeds).
It writes to ``runs/demo`` unless told otherwise: ``--out-dir results/demo`` rewrites the committed results.

    python -m examples.demo [--framework torch|jax|keras-jax|...] [--epochs 100] [--out-dir runs/demo]
"""

import argparse
import math
from pathlib import Path

import layca_core
from examples import documents, experiment, fingerprint, networks, report, runs
from examples.data import mnist1d
from examples.experiment import Method, Run, adam, layca, sgd

BATCH = 128
THREADS = 1
HEADLINE = (
    "Compare each method's test accuracy with how far and how evenly its layers rotate: in the paper, "
    "larger and more uniform rotations go with better accuracy, and Layca brings them to SGD and Adam."
)


def methods() -> list[Method]:
    return [
        sgd("SGD", 0.1),
        sgd("SGD + weight decay", 0.1, weight_decay=5e-3),
        adam("Adam"),
        layca("Adam + Layca", 3**-5, base="adam"),
        layca("Layca", 3**-3),
    ]


def step_decay(epochs: int) -> layca_core.StepDecay:
    """x0.2 at 70% and 90% of training."""
    return layca_core.StepDecay(epochs, (math.ceil(0.7 * epochs), math.ceil(0.9 * epochs)), 0.2)


def train_and_report(
    args: argparse.Namespace,
    methods: list[Method],
    figure_name: str,
    columns: int | None = None,
    headline: str = "",
    intervals: tuple[str, dict[str, str]] | None = None,
) -> list[Run]:
    """Every method from the same initial CNN on the same MNIST-1D batches, on ``THREADS`` threads; the report goes
    to ``args.out_dir`` (``intervals``: as for ``report.table``)."""
    runs.pin_threads(args.framework, THREADS)
    trainer = experiment.trainer(args.framework)
    data, network = mnist1d(args.samples), networks.cnn()
    weights = networks.initial_weights(network, args.seed)
    schedule = step_decay(args.epochs)
    plan = experiment.plan(len(data.y_train), args.epochs, BATCH, schedule, args.seed)
    trained = [trainer.train(network, weights, method, data, plan) for method in methods]
    about = {
        "framework": experiment.framework_label(args.framework),
        "epochs": args.epochs,
        "samples": args.samples,
        "seed": args.seed,
        "threads": THREADS,
        "commit": runs.provenance()["commit"],
    }
    made_by = {
        "versions": runs.provenance()["versions"],
        "numerics": {"framework": args.framework, **fingerprint.measure(args.framework)},
    }
    marks = schedule.milestones
    report.write(trained, args.out_dir, figure_name, about, columns, marks, headline, intervals, made_by)
    return trained


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    experiment.add_framework_argument(parser)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--samples", type=int, default=4000, help="MNIST-1D samples (80%% train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("runs/demo"))
    args = parser.parse_args(argv)
    default_task = (args.samples, args.epochs) == (parser.get_default("samples"), parser.get_default("epochs"))
    intervals = documents.demo_intervals(runs.ROOT) if default_task else None
    trained = train_and_report(args, methods(), "layer_rotation_curves.png", headline=HEADLINE, intervals=intervals)
    print(f"Wrote {args.out_dir / 'layer_rotation_curves.png'}, results.md, results.json and per-run CSV curves.")
    return trained


if __name__ == "__main__":
    main()

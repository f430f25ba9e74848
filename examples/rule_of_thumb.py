"""The paper's rule of thumb at small scale (Sections 4 and 5), PyTorch, MNIST-1D.

Layca over alpha in {-0.6, 0, 0.6} and rates {3^-3, 3^-4, 3^-5}; plain SGD over a learning-rate
grid; SGD + weight decay; Adam with and without Layca. All from one initialization, step decay
x0.2 at 70% and 90% of training. Writes the curves (one panel per run) and a results table.

    python -m examples.rule_of_thumb [--epochs 30] [--samples 4000] [--out-dir results/rule_of_thumb]
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from examples.data import mnist1d  # noqa: E402
from examples.demo import make_network, train  # noqa: E402


def runs() -> dict:
    grid = {
        f"Layca alpha={alpha:+.1f} rate=3^-{k}": (lambda p, a=alpha, r=3.0**-k: layca_torch.Layca(p, lr=r, alpha=a))
        for k in (3, 4, 5)
        for alpha in (-0.6, 0.0, 0.6)
    }
    grid |= {
        f"SGD lr={lr:g}": (lambda p, lr=lr: torch.optim.SGD(p, lr=lr, momentum=0.9)) for lr in (0.3, 0.1, 0.03, 0.01)
    }
    grid["SGD + weight decay"] = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-3)
    grid["Adam"] = lambda p: torch.optim.Adam(p, lr=1e-3)
    grid["Adam + Layca"] = lambda p: layca_torch.Layca(p, lr=3**-5, base="adam")
    return grid


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--out-dir", type=Path, default=Path("results/rule_of_thumb"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    data, init = mnist1d(args.samples), make_network().state_dict()
    results = [train(name, factory, init, data, args.epochs, seed=0) for name, factory in runs().items()]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    columns = 4
    figure, axes = plt.subplots(
        -(-len(results) // columns), columns, figsize=(13, 2.6 * -(-len(results) // columns)), layout="constrained"
    )
    for ax, r in zip(axes.flat, results):
        layca_core.plot_layer_rotation(
            r["history"], ax=ax, title=f"{r['method']}\ntest {100 * r['test_accuracy']:.1f}%"
        )
    for ax in list(axes.flat)[len(results) :]:
        ax.axis("off")
    figure.savefig(args.out_dir / "curves.png", dpi=100)
    rows = ["| run | test acc. | train acc. | mean final rotation | min final rotation |", "|---|---|---|---|---|"]
    for r in results:
        r.pop("history")
        d = list(r["final_rotation"].values())
        rows.append(
            f"| {r['method']} | {100 * r['test_accuracy']:.1f}% | {100 * r['train_accuracy']:.1f}% | {sum(d) / len(d):.2f} | {min(d):.2f} |"
        )
    (args.out_dir / "results.md").write_text("\n".join(rows) + "\n")
    (args.out_dir / "results.json").write_text(json.dumps(results, indent=1))
    print("\n".join(rows))
    return results


if __name__ == "__main__":
    main()

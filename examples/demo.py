"""The main demo: layer rotation curves of five training methods on MNIST-1D (PyTorch).

Trains one small batch-normalized 1-D CNN (no biases, BN without affine parameters, as in the
paper) with plain SGD, SGD + weight decay, Adam, Adam + Layca and Layca (SGD), from the same
initialization, and writes the layer rotation curves of every run side by side (the layout of
the paper's Figure 1), plus a results table in markdown and JSON.

    python -m examples.demo [--epochs 40] [--out-dir results/demo]
"""

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from tqdm import tqdm  # noqa: E402

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from examples.data import mnist1d  # noqa: E402

BATCH = 128


def make_network(width: int = 32) -> nn.Module:
    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv1d(cin, cout, 5, stride, padding=2, bias=False), nn.BatchNorm1d(cout, affine=False), nn.ReLU()]

    return nn.Sequential(
        *block(1, width, 1),
        *block(width, width, 2),
        *block(width, 2 * width, 2),
        *block(2 * width, 2 * width, 2),
        nn.Flatten(),
        nn.Linear(2 * width * 5, 10, bias=False),
        nn.BatchNorm1d(10, affine=False),
    )


def methods(epochs: int) -> dict[str, tuple]:
    """name -> (optimizer factory, learning-rate milestones): step decay x0.2 at 70% and 90% of training."""
    return {
        "SGD": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "SGD + weight decay": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-3),
        "Adam": lambda p: torch.optim.Adam(p, lr=1e-3),
        "Adam + Layca": lambda p: layca_torch.Layca(p, lr=3**-5, base="adam"),
        "Layca": lambda p: layca_torch.Layca(p, lr=3**-3, base="sgd"),
    }


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(1) == y).float().mean().item()
    model.train()
    return correct


def train(name: str, factory, init: dict, data, epochs: int, seed: int) -> dict:
    model = make_network()
    model.load_state_dict(init)
    optimizer = factory(model.parameters())
    milestones = [math.ceil(0.7 * epochs), math.ceil(0.9 * epochs)]
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.2)
    monitor = layca_torch.RotationMonitor(model)
    monitor.record(step=0, epoch=0)
    x, y, x_test, y_test = (torch.as_tensor(a) for a in data)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    for epoch in tqdm(range(1, epochs + 1), desc=f"{name:>18}", unit="epoch", leave=True):
        for batch in torch.randperm(len(y), generator=generator).split(BATCH):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
            step += 1
        scheduler.step()
        monitor.record(step=step, epoch=epoch)
    return {
        "method": name,
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_accuracy": accuracy(model, x, y),
        "final_rotation": dict(zip(monitor.history.layer_names, monitor.history.distances[-1])),
        "history": monitor.history,
    }


def write_outputs(results: list[dict], out_dir: Path, epochs: int) -> None:
    figure, axes = plt.subplots(1, len(results), figsize=(3.4 * len(results), 3.0), layout="constrained")
    for ax, result in zip(axes, results):
        layca_core.plot_layer_rotation(
            result["history"], ax=ax, title=f"{result['method']}\ntest {100 * result['test_accuracy']:.1f}%"
        )
    figure.savefig(out_dir / "layer_rotation_curves.png", dpi=120)
    for result in results:
        result.pop("history").save(
            str(out_dir / f"rotation_{result['method'].replace(' ', '_').replace('+', 'plus')}.csv")
        )
    (out_dir / "results.json").write_text(json.dumps({"epochs": epochs, "runs": results}, indent=2))
    lines = ["| method | test acc. | train acc. | final rotation per layer (first -> last) |", "|---|---|---|---|"]
    for r in results:
        rotation = " ".join(f"{d:.2f}" for d in r["final_rotation"].values())
        lines.append(
            f"| {r['method']} | {100 * r['test_accuracy']:.1f}% | {100 * r['train_accuracy']:.1f}% | {rotation} |"
        )
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--samples", type=int, default=10000, help="MNIST-1D samples (80%% train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("results/demo"))
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    data = mnist1d(args.samples)
    init = make_network().state_dict()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = [
        train(name, factory, init, data, args.epochs, args.seed) for name, factory in methods(args.epochs).items()
    ]
    write_outputs(results, args.out_dir, args.epochs)
    print(f"Wrote {args.out_dir / 'layer_rotation_curves.png'}, results.md, results.json and per-run CSV curves.")


if __name__ == "__main__":
    main()

"""Warmup (paper Section 5.3), PyTorch, MNIST-1D: SGD at a high rate with and without warmup, and Layca without.

A residual 1-D CNN (8 blocks, batch norm without affine parameters, no biases), SGD with
momentum at learning rate 1.0 and a linear warmup from 1/10 over 0, 2 or 5 epochs (per batch,
``layca_core.StepDecay``), against Layca (rate 3^-3) with no warmup. Writes rotation curves
and training-accuracy curves.

    python -m examples.warmup [--epochs 15] [--out results/warmup.png]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from examples.data import mnist1d  # noqa: E402


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1, bias=False), nn.BatchNorm1d(width, affine=False), nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=1, bias=False), nn.BatchNorm1d(width, affine=False),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def make_resnet(blocks: int = 8, width: int = 32) -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, width, 5, padding=2, bias=False), nn.BatchNorm1d(width, affine=False), nn.ReLU(),
        *[Block(width) for _ in range(blocks)],
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, 10, bias=False), nn.BatchNorm1d(10, affine=False),
    )  # fmt: skip


def run(name: str, optimizer_factory, warmup_epochs: float, init: dict, data, epochs: int) -> dict:
    model = make_resnet()
    model.load_state_dict(init)
    optimizer = optimizer_factory(model.parameters())
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    steps_per_epoch = -(-len(y) // 128)
    warmup = layca_core.StepDecay(epochs, warmup_epochs=warmup_epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup(step / steps_per_epoch))
    monitor = layca_torch.RotationMonitor(model)
    monitor.record(step=0, epoch=0)
    generator, accuracies = torch.Generator().manual_seed(0), []
    for epoch in range(1, epochs + 1):
        correct = 0
        for batch in torch.randperm(len(y), generator=generator).split(128):
            optimizer.zero_grad()
            logits = model(x[batch])
            nn.functional.cross_entropy(logits, y[batch]).backward()
            optimizer.step()
            scheduler.step()
            correct += (logits.argmax(1) == y[batch]).sum().item()
        accuracies.append(correct / len(y))
        monitor.record(step=epoch * steps_per_epoch, epoch=epoch)
    print(f"{name:>22}: training accuracy per epoch {[round(a, 2) for a in accuracies]}")
    return {"name": name, "history": monitor.history, "accuracy": accuracies}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=Path("results/warmup.png"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    data, init = mnist1d(args.samples), make_resnet().state_dict()
    sgd = lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.9)
    runs = [run(f"SGD, {k} warmup epochs", sgd, k, init, data, args.epochs) for k in (0, 2, 5)]
    runs.append(run("Layca, no warmup", lambda p: layca_torch.Layca(p, lr=3**-3), 0, init, data, args.epochs))
    figure, axes = plt.subplots(2, len(runs), figsize=(3.2 * len(runs), 5.2), layout="constrained")
    for column, result in enumerate(runs):
        layca_core.plot_layer_rotation(result["history"], ax=axes[0, column], title=result["name"])
        axes[1, column].plot(range(1, args.epochs + 1), result["accuracy"])
        axes[1, column].set(ylim=(0, 1), xlabel="epoch", ylabel="training accuracy")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=100)
    return runs


if __name__ == "__main__":
    main()

"""PyTorch quickstart: an MLP on scikit-learn's digits with Layca and the rotation monitor.

python examples/torch_quickstart.py [--epochs 20] [--out results/rotation_torch.png]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import layca_torch


def digits() -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits in [0, 1], shuffled once: 2/3 for training, 1/3 for testing."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y, cut = (x[order] / 16).astype(np.float32), y[order], 2 * len(y) // 3
    return x[:cut], y[:cut], x[cut:], y[cut:]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("results/rotation_torch.png"))
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    x, y, x_test, y_test = (torch.as_tensor(a) for a in digits())
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    for layer in (model[0], model[2]):
        nn.init.kaiming_normal_(layer.weight)  # Layca keeps these norms: without BN they set the output scale

    optimizer = layca_torch.Layca(model.named_parameters(), lr=3**-3, base="momentum", momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [int(0.8 * args.epochs)], gamma=0.2)
    monitor = layca_torch.RotationMonitor(model)
    monitor.record(step=0, epoch=0)

    step = 0
    for epoch in range(1, args.epochs + 1):
        for batch in torch.randperm(len(y)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
            step += 1
        scheduler.step()
        monitor.record(step=step, epoch=epoch)

    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(
        f"test accuracy {accuracy:.3f}; final rotation {dict(zip(monitor.history.layer_names, monitor.history.distances[-1]))}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    monitor.plot(title="PyTorch + Layca").figure.savefig(args.out, dpi=100)
    return accuracy


if __name__ == "__main__":
    main()

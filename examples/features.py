"""Layer rotation and learned features (paper Section 6), PyTorch, scikit-learn's 8x8 digits.

A one-hidden-layer MLP (overparameterized: 512 hidden units, 50 samples per class) trained
from one initialization with four Layca rates. The input weights of a few hidden units are
8x8 images: larger rotations sharpen them further from their random initialization.

    python -m examples.features [--epochs 60] [--out results/features.png]
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
from examples.data import digits  # noqa: E402

RATES = (3.0**-2, 3.0**-3, 3.0**-4, 3.0**-5)
UNITS = (0, 1, 2, 3, 4)


def train(rate: float, init: dict, data, epochs: int) -> tuple[nn.Module, float, float]:
    model = nn.Sequential(nn.Linear(64, 512, bias=False), nn.ReLU(), nn.Linear(512, 10, bias=False))
    model.load_state_dict(init)
    optimizer = layca_torch.Layca(model.parameters(), lr=rate)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [int(0.8 * epochs)], gamma=0.2)
    x, y, x_test, y_test = (torch.as_tensor(a) for a in data)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(32):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        scheduler.step()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return (
        model,
        accuracy,
        float(layca_core.cosine_distance(model[0].weight.detach().double(), init["0.weight"].double())),
    )


def main(argv: list[str] | None = None) -> list[tuple[float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("results/features.png"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    data = digits(samples_per_class=50)
    init = nn.Sequential(nn.Linear(64, 512, bias=False), nn.ReLU(), nn.Linear(512, 10, bias=False)).state_dict()
    for key in init:
        nn.init.kaiming_normal_(init[key])
    figure, axes = plt.subplots(
        len(RATES) + 1, len(UNITS), figsize=(1.4 * len(UNITS), 1.5 * (len(RATES) + 1)), layout="constrained"
    )
    rows = [("initialization", init["0.weight"], None, 0.0)]
    results = []
    for rate in RATES:
        model, accuracy, rotation = train(rate, init, data, args.epochs)
        rows.append((f"3^{round(__import__('math').log(rate, 3))}", model[0].weight.detach(), accuracy, rotation))
        results.append((rate, accuracy, rotation))
        print(f"rate {rate:.4f}: test accuracy {accuracy:.3f}, first-layer rotation {rotation:.3f}")
    for row_axes, (label, weights, accuracy, rotation) in zip(axes, rows):
        for ax, unit in zip(row_axes, UNITS):
            ax.imshow(weights[unit].reshape(8, 8).numpy(), cmap="gray")
            ax.set_xticks([]), ax.set_yticks([])
        caption = label if accuracy is None else f"{label}\n{100 * accuracy:.1f}%, d={rotation:.2f}"
        row_axes[0].set_ylabel(caption, fontsize=7)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    return results


if __name__ == "__main__":
    main()

"""PyTorch quickstart: an MLP on scikit-learn's digits with Layca and the rotation monitor.

python -m examples.torch_quickstart [--epochs 20] [--out rotation_torch.png]
"""

import argparse

import torch
from torch import nn

import layca_torch
from examples.data import digits


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="rotation_torch.png")
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
    monitor.plot(title="PyTorch + Layca").figure.savefig(args.out, dpi=100)
    return accuracy


if __name__ == "__main__":
    main()

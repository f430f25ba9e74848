"""PyTorch: build an ``examples.networks`` network and train it with a ``Method`` along a ``Plan``."""

import numpy as np
import torch
from torch import nn

import layca_torch
from examples import networks
from examples.experiment import Method, Plan, Run, progress


class _Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def _module(op: networks.Operation) -> nn.Module:
    match op:
        case networks.Conv():
            return nn.Conv1d(op.inputs, op.outputs, op.width, op.stride, padding=op.width // 2, bias=False)
        case networks.Conv2d():
            return nn.Conv2d(op.inputs, op.outputs, op.width, padding=op.width // 2, bias=False)
        case networks.MaxPool2d():
            return nn.MaxPool2d(op.size)
        case networks.Dense():
            return nn.Linear(op.inputs, op.outputs, bias=False)
        case networks.BatchNorm():
            return nn.BatchNorm1d(op.channels, eps=networks.EPS, momentum=networks.MOMENTUM, affine=False)
        case networks.BatchNorm2d():
            return nn.BatchNorm2d(op.channels, eps=networks.EPS, momentum=networks.MOMENTUM, affine=False)
        case networks.ReLU():
            return nn.ReLU()
        case networks.Flatten():
            return nn.Flatten()
        case networks.GlobalAveragePool():
            return nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())
        case networks.Residual():
            return _Residual(nn.Sequential(*map(_module, op.body)))


def build(network: tuple, weights: list[np.ndarray]) -> nn.Sequential:
    model = nn.Sequential(*map(_module, network))
    with torch.no_grad():
        for parameter, w in zip(model.parameters(), weights, strict=True):
            parameter.copy_(torch.from_numpy(w))
    return model


def predict(network: tuple, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the network in evaluation mode."""
    with torch.no_grad():
        return build(network, weights).eval()(torch.as_tensor(x)).numpy()


def _optimizer(method: Method, parameters) -> torch.optim.Optimizer:
    if method.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=method.lr, momentum=method.momentum, weight_decay=method.weight_decay)
    if method.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=method.lr)
    return layca_torch.Layca(parameters, lr=method.lr, base=method.base, alpha=method.alpha)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> float:
    """Evaluation-mode accuracy, ``chunk`` samples at a time (one pass for the MNIST-1D sets)."""
    model.eval()
    with torch.no_grad():
        hits = sum((model(x[i : i + chunk]).argmax(1) == y[i : i + chunk]).sum() for i in range(0, len(y), chunk))
    model.train()
    return hits.item() / len(y)


def train(network: tuple, weights: list[np.ndarray], method: Method, data, plan: Plan, device: str = "cpu") -> Run:
    """Train on ``device`` (a torch device string: "cpu", "cuda", ...); the data move there once."""
    model = build(network, weights).to(device)
    optimizer = _optimizer(method, model.parameters())
    last = len(plan.multipliers) - 1
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: float(plan.multipliers[min(step, last)]))
    monitor = layca_torch.RotationMonitor(model)
    monitor.record(step=0, epoch=0)
    x, y, x_test, y_test = (torch.as_tensor(a, device=device) for a in data)
    step, epoch_accuracy, epoch_loss = 0, [], []
    with progress(len(plan.epochs), method.name) as bar:
        for epoch, batches in enumerate(plan.epochs, 1):
            correct = torch.zeros((), dtype=torch.int64, device=device)
            total_loss = torch.zeros((), dtype=torch.float64, device=device)
            for batch in (torch.as_tensor(b, device=device) for b in batches):
                optimizer.zero_grad()
                logits = model(x[batch])
                loss = nn.functional.cross_entropy(logits, y[batch])
                loss.backward()
                optimizer.step()
                scheduler.step()
                correct += (logits.argmax(1) == y[batch]).sum()
                total_loss += loss.detach() * len(batch)
            step += len(batches)
            epoch_accuracy.append(correct.item() / len(y))
            epoch_loss.append(total_loss.item() / len(y))
            monitor.record(step=step, epoch=epoch)
            bar.update()
    kernels = [p.detach().cpu().numpy().copy() for p in model.parameters()]
    return Run(
        method.name,
        _accuracy(model, x_test, y_test),
        _accuracy(model, x, y),
        epoch_accuracy,
        monitor.history,
        kernels,
        epoch_loss,
    )

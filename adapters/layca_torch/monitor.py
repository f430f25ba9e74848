"""``RotationMonitor``: layer rotation curves of a PyTorch model, recorded during training."""

import math
from typing import Any

import torch
from torch import nn

import layca_core
from layca_core.monitor_state import monitor_state, split_monitor_state
from layca_torch.groups import Selector, layer_predicate


class RotationMonitor:
    """Snapshot a model's layers now; record each one's cosine distance to that snapshot later.

    Distances are computed in float64. ``on_cpu=True`` keeps the snapshot in host memory.
    ``writer`` (a ``torch.utils.tensorboard.SummaryWriter``) receives every recorded value.
    Save ``state_dict()`` with your checkpoint and ``load_state_dict`` it after a resume, so that
    rotation is still measured from the first initialization and the curves continue.

    Layers are ``Layca``'s default ones (``layca_torch.describe(model)``: not embedding tables, biases or
    normalisation parameters) unless ``layers`` says otherwise, as in ``layca_param_groups``
    (``docs/selection.md``).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
        >>> monitor = RotationMonitor(model)
        >>> monitor.record(step=0, epoch=0)
        >>> monitor.history.distances
        [[0.0, 0.0]]
    """

    def __init__(self, model: nn.Module, layers: Selector = None, *, on_cpu: bool = False, writer: Any = None) -> None:
        is_layer = layer_predicate(model, layers)
        self.layers = [(n, p) for n, p in model.named_parameters() if is_layer(n, p)]
        if not self.layers:
            raise ValueError("No parameter was selected as a layer to monitor; check `layers`.")
        self.initial = [p.detach().to("cpu" if on_cpu else p.device, copy=True) for _, p in self.layers]
        self.history = layca_core.RotationHistory(tuple(n for n, _ in self.layers))
        self.writer = writer

    @torch.no_grad()
    def distances(self) -> list[float]:
        """Each layer's cosine distance to its snapshot, now (one host synchronisation)."""
        values = [
            layca_core.cosine_distance(p.detach().to(w0.device, torch.float64), w0.to(torch.float64))
            for (_, p), w0 in zip(self.layers, self.initial)
        ]
        return torch.stack(values).tolist()

    def record(self, step: int, epoch: float | None = None) -> None:
        """Append the current distances to ``history`` (and to ``writer``)."""
        distances = self.distances()
        self.history.record(step, step if epoch is None else epoch, distances)
        if self.writer is not None:
            for name, value in zip(self.history.layer_names, distances):
                self.writer.add_scalar(f"layer_rotation/{name}", value, step)

    def state_dict(self) -> dict[str, Any]:
        """The initial snapshot and the history, for ``torch.save`` beside the model and optimizer."""
        return monitor_state(self.history, [w0.clone() for w0 in self.initial])

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict()``: later records measure rotation from its snapshot and extend its history."""
        history, initial = split_monitor_state(state_dict, self.history.layer_names)
        for (name, p), w0 in zip(self.layers, initial):
            if tuple(w0.shape) != tuple(p.shape):
                raise ValueError(f"state_dict's snapshot of {name} has shape {tuple(w0.shape)}, not {tuple(p.shape)}.")
        self.initial = [w0.to(device=old.device, dtype=old.dtype) for w0, old in zip(initial, self.initial)]
        self.history = history

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        """The layer rotation curves recorded so far (``layca_core.plot_layer_rotation``)."""
        return layca_core.plot_layer_rotation(self.history, ax=ax, title=title)


def layer_angles(optimizer: Any) -> dict[str, float]:
    """Per-step angle (radians) of every layer a ``Layca`` optimizer turns, with no pass over weights."""
    angles, multipliers = {}, optimizer.layer_multipliers()
    for group in optimizer.param_groups:
        names = group.get("param_names") or [None] * len(group["params"])
        for name, p in zip(names, group["params"]):
            if p in multipliers:
                angles[name or f"layer {len(angles)}"] = math.atan(float(group["lr"]) * multipliers[p])
    return angles

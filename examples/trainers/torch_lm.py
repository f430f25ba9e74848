"""PyTorch: the ``examples.transformer`` language model, trained with a ``Method`` along a ``Plan``."""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional

import layca_torch
from examples import transformer
from examples.experiment import Method, Plan, progress
from examples.transformer import LMRun, Shape


class Transformer(nn.Module):
    """The decoder-only transformer of ``examples.transformer``: parameters in the order of its ``layers``
    (``embed.weight``, ``blocks.<i>.<name>``, ``head.weight``: torch lists a module's own parameters first)."""

    def __init__(self, s: Shape, weights: list[np.ndarray]) -> None:
        super().__init__()
        self.shape = s
        matrices = iter(nn.Parameter(torch.from_numpy(w.copy())) for w in weights)
        self.embed = nn.Module()
        self.embed.weight = next(matrices)
        self.blocks = nn.ModuleList()
        for _ in range(s.depth):
            block = nn.Module()
            for name in ("qkv", "out", "up", "down"):
                block.register_parameter(name, next(matrices))
            self.blocks.append(block)
        self.head = nn.Module()
        self.head.weight = next(matrices)
        self.register_buffer("positions", torch.from_numpy(transformer.positions(s)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        s, (batch, time) = self.shape, tokens.shape
        x = self.embed.weight[tokens] + self.positions[:time]
        norm = lambda a: functional.layer_norm(a, (s.width,), eps=transformer.EPS)
        for block in self.blocks:
            q, k, v = (norm(x) @ block.qkv.T).split(s.width, dim=-1)
            q, k, v = (a.reshape(batch, time, s.heads, s.head_width).transpose(1, 2) for a in (q, k, v))
            attended = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + attended.transpose(1, 2).reshape(batch, time, s.width) @ block.out.T
            x = x + torch.relu(norm(x) @ block.up.T) @ block.down.T
        return norm(x) @ self.head.weight.T


def predict(s: Shape, weights: list[np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """Logits ``(batch, time, vocab)``."""
    with torch.no_grad():
        return Transformer(s, weights)(torch.as_tensor(tokens, dtype=torch.int64)).numpy()


def _every_matrix(name: str, p: torch.Tensor) -> bool:
    """The study's layers: every matrix, the embedding and the head included (the default selection leaves those two
    out; the study was fixed before that default)."""
    return p.ndim >= 2


def optimizers(method: Method, model: Transformer) -> list[torch.optim.Optimizer]:
    """``method`` as torch optimizers: Muon (its RMS matched to AdamW's, so one rate) on the blocks' matrices
    and AdamW on the embedding and the head; Layca (``variant`` layca or hyperball) on every matrix."""
    named = list(model.named_parameters())
    if method.optimizer == "adamw":
        return [torch.optim.AdamW(model.parameters(), lr=method.lr, weight_decay=method.weight_decay)]
    if method.optimizer == "muon":
        hidden = [p for n, p in named if transformer.hidden(n)]
        rest = [p for n, p in named if not transformer.hidden(n)]
        muon = torch.optim.Muon(hidden, lr=method.lr, weight_decay=method.weight_decay, adjust_lr_fn="match_rms_adamw")
        return [muon, torch.optim.AdamW(rest, lr=method.lr, weight_decay=method.weight_decay)]
    if method.optimizer == "adam":
        return [torch.optim.Adam(model.parameters(), lr=method.lr)]
    if method.optimizer == "layca":
        return [
            layca_torch.Layca(
                model.named_parameters(), lr=method.lr, base=method.base, variant=method.variant, layers=_every_matrix
            )
        ]
    raise ValueError(
        f"method optimizer must be adamw, muon, adam or layca for the language model; got {method.optimizer!r}."
    )


def _loss(model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
    logits = model(windows[:, :-1])
    return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


def evaluate(model: nn.Module, windows: torch.Tensor) -> tuple[float, float]:
    """Validation loss (nats per token) and next-token accuracy."""
    with torch.no_grad():
        logits = model(windows[:, :-1])
        targets = windows[:, 1:]
        value = functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return value.item(), (logits.argmax(-1) == targets).double().mean().item()


def train(s: Shape, weights: list[np.ndarray], method: Method, data, plan: Plan) -> LMRun:
    """Train on ``data`` (an ``examples.corpus.Corpus``); validation loss and rotation after every epoch."""
    model = Transformer(s, weights)
    steppers = optimizers(method, model)
    last = len(plan.multipliers) - 1
    multiplier = lambda step: float(plan.multipliers[min(step, last)])
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, multiplier) for o in steppers]
    monitor = layca_torch.RotationMonitor(model, layers=_every_matrix)
    monitor.record(step=0, epoch=0)
    train_windows, validation = (torch.as_tensor(a, dtype=torch.int64) for a in (data.train, data.validation))
    step, epoch_loss, val_losses = 0, [], [evaluate(model, validation)[0]]
    with progress(len(plan.epochs), method.name) as bar:
        for epoch, batches in enumerate(plan.epochs, 1):
            total = 0.0
            for batch in batches:
                for optimizer in steppers:
                    optimizer.zero_grad()
                value = _loss(model, train_windows[torch.as_tensor(batch)])
                value.backward()
                for optimizer, scheduler in zip(steppers, schedulers):
                    optimizer.step()
                    scheduler.step()
                total += value.item() * len(batch)
            step += len(batches)
            epoch_loss.append(total / len(train_windows))
            val_losses.append(evaluate(model, validation)[0])
            monitor.record(step=step, epoch=epoch)
            bar.update()
    val_loss, val_accuracy = evaluate(model, validation)
    if not math.isfinite(val_loss):
        val_loss = float("inf")
    kernels = [p.detach().numpy().copy() for p in model.parameters()]
    return LMRun(method.name, val_loss, val_accuracy, epoch_loss, val_losses, monitor.history, kernels)

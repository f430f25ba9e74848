"""torch: Layca (momentum, adam bases) against torch.optim SGD-momentum and Adam, foreach and fused.

Each Layca step and its baselines step in interleaved rounds on the same parameters (own states).
Each Layca step runs on the multi-tensor executor (the default) and with ``fused=True``: the compiled
executor on the CPU, the Triton one on CUDA.
"""

from collections.abc import Callable
from typing import Any

import torch

import layca_torch
from benchmarks.shapes import arrays
from benchmarks.timing import interleaved, peak_rss_bytes, report, round_ratios, row

OPTIMIZERS = {
    "SGD momentum (foreach)": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True),
    "SGD momentum (fused)": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, fused=True),
    "Adam (foreach)": lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True),
    "Adam (fused)": lambda p: torch.optim.Adam(p, lr=1e-3, fused=True),
    "Layca SGD momentum": lambda p: layca_torch.Layca(p, base="momentum", momentum=0.9),
    "Layca Adam": lambda p: layca_torch.Layca(p, base="adam"),
    "Layca SGD momentum (fused)": lambda p: layca_torch.Layca(p, base="momentum", momentum=0.9, fused=True),
    "Layca Adam (fused)": lambda p: layca_torch.Layca(p, base="adam", fused=True),
}
COMPARISONS = {
    "Layca SGD momentum": ("SGD momentum (foreach)", "SGD momentum (fused)"),
    "Layca Adam": ("Adam (foreach)", "Adam (fused)"),
}
FUSED = {
    "Layca SGD momentum (fused)": COMPARISONS["Layca SGD momentum"],
    "Layca Adam (fused)": COMPARISONS["Layca Adam"],
}
"""``fused=True``: the compiled executor on the CPU, the Triton one on CUDA."""


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(v.nbytes for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v))


def peak_cuda_bytes(step: Callable[[], Any], sync: Callable[[Any], Any]) -> int:
    """How far one step raises the memory torch holds on the GPU above what it held before it."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    sync(step())
    return torch.cuda.max_memory_allocated() - before


def run(shape_sets: list[str], dtypes: list[str], device: str, rounds: int | None = None) -> list[dict]:
    rows = []
    sync = (lambda _: torch.cuda.synchronize()) if device == "cuda" else (lambda _: None)
    peak = peak_cuda_bytes if device == "cuda" else peak_rss_bytes
    for shape_set in shape_sets:
        for dtype in dtypes:
            weights, gradients = arrays(shape_set)
            params = [torch.nn.Parameter(torch.as_tensor(w).to(device, getattr(torch, dtype))) for w in weights]
            for p, g in zip(params, gradients):
                p.grad = torch.as_tensor(g).to(device, p.dtype)
            for candidate, baselines in {**COMPARISONS, **FUSED}.items():
                optimizers = {name: OPTIMIZERS[name](params) for name in (candidate, *baselines)}
                steps = {name: optimizer.step for name, optimizer in optimizers.items()}
                times = interleaved(steps, sync, shape_set, rounds)
                for name, optimizer in optimizers.items():
                    extra = peak(steps[name], sync)
                    ratios = round_ratios(times, candidate, baselines) if name == candidate else None
                    rows.append(
                        row("torch", shape_set, dtype, device, name, times[name], state_bytes(optimizer), extra, ratios)
                    )
                    report(rows[-1])
                del optimizers, steps
    return rows

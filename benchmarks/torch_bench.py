"""torch: Layca (momentum, adam bases) against torch.optim SGD-momentum and Adam, foreach and fused.

Each Layca step and its baselines step in interleaved rounds on the same parameters (own states).
On CUDA, Layca runs the Triton executor; its SGD-momentum step also runs on the torch executor.
On the CPU, each Layca step also runs with ``fused=True`` (the compiled executor). Layca SGD-momentum's step
also runs as ``torch.compile(optimizer.step)`` (torch's recipe for a faster step), against torch's SGD compiled alike.
"""

import os
from collections.abc import Callable
from typing import Any

import torch

import layca_torch
from benchmarks.shapes import arrays
from benchmarks.timing import interleaved, peak_rss_bytes, report, round_ratios, row

class CompiledStep:
    """An optimizer whose ``step`` is ``torch.compile(optimizer.step)``; the warm-up rounds compile it."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.state, self.step = optimizer.state, torch.compile(optimizer.step)


OPTIMIZERS = {
    "SGD momentum (foreach)": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True),
    "SGD momentum (fused)": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, fused=True),
    "Adam (foreach)": lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True),
    "Adam (fused)": lambda p: torch.optim.Adam(p, lr=1e-3, fused=True),
    "Layca SGD momentum": lambda p: layca_torch.Layca(p, base="momentum", momentum=0.9),
    "Layca Adam": lambda p: layca_torch.Layca(p, base="adam"),
    "Layca SGD momentum (fused)": lambda p: layca_torch.Layca(p, base="momentum", momentum=0.9, fused=True),
    "Layca Adam (fused)": lambda p: layca_torch.Layca(p, base="adam", fused=True),
    "SGD momentum (compiled step)": lambda p: CompiledStep(torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True)),
    "Layca SGD momentum (compiled step)": lambda p: CompiledStep(layca_torch.Layca(p, base="momentum", momentum=0.9)),
}
COMPARISONS = {
    "Layca SGD momentum": ("SGD momentum (foreach)", "SGD momentum (fused)"),
    "Layca Adam": ("Adam (foreach)", "Adam (fused)"),
}
FUSED_ON_CPU = {
    "Layca SGD momentum (fused)": COMPARISONS["Layca SGD momentum"],
    "Layca Adam (fused)": COMPARISONS["Layca Adam"],
}
"""On the CPU, ``fused=True`` runs the compiled executor (on CUDA the default already runs the Triton one)."""
COMPILED_STEPS = {
    "Layca SGD momentum (compiled step)": ("Layca SGD momentum", "SGD momentum (foreach)", "SGD momentum (compiled step)")
}
ON_TORCH_EXECUTOR = "Layca SGD momentum (torch executor)"


def without_triton(step: Callable[[], Any]) -> Callable[[], Any]:
    """``step`` with ``LAYCA_TRITON=0``: Layca's torch multi-tensor executor."""

    def run() -> Any:
        before = os.environ.get("LAYCA_TRITON")
        os.environ["LAYCA_TRITON"] = "0"
        try:
            return step()
        finally:
            if before is None:
                del os.environ["LAYCA_TRITON"]
            else:
                os.environ["LAYCA_TRITON"] = before

    return run


def state_bytes(optimizer: Any) -> int:
    return sum(v.nbytes for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v))


def peak_cuda_bytes(step: Callable[[], Any], sync: Callable[[Any], Any]) -> int:
    """How far one step raises the memory torch holds on the GPU above what it held before it."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    sync(step())
    return torch.cuda.max_memory_allocated() - before


def _comparisons(device: str) -> dict[str, tuple[str, ...]]:
    if device != "cuda":
        return {**COMPARISONS, **FUSED_ON_CPU, **COMPILED_STEPS}
    return {**COMPARISONS, ON_TORCH_EXECUTOR: COMPARISONS["Layca SGD momentum"], **COMPILED_STEPS}


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
            for candidate, baselines in _comparisons(device).items():
                names = (candidate, *baselines)
                factory = OPTIMIZERS["Layca SGD momentum" if candidate == ON_TORCH_EXECUTOR else candidate]
                optimizers = {name: (factory if name == candidate else OPTIMIZERS[name])(params) for name in names}
                steps = {name: optimizer.step for name, optimizer in optimizers.items()}
                if candidate == ON_TORCH_EXECUTOR:
                    steps[candidate] = without_triton(steps[candidate])
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

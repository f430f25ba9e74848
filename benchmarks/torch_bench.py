"""torch: Layca (momentum, adam bases) against torch.optim SGD-momentum and Adam, foreach and fused.

On CUDA, Layca runs the Triton executor; its SGD-momentum step also runs once on the torch executor.
"""

import os
from collections.abc import Callable
from typing import Any

import torch

import layca_torch
from benchmarks.shapes import arrays
from benchmarks.timing import median_ms, row

OPTIMIZERS = {
    "SGD momentum (foreach)": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True),
    "SGD momentum (fused)": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, fused=True),
    "Adam (foreach)": lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True),
    "Adam (fused)": lambda p: torch.optim.Adam(p, lr=1e-3, fused=True),
    "Layca SGD momentum": lambda p: layca_torch.Layca(p, base="momentum", momentum=0.9),
    "Layca Adam": lambda p: layca_torch.Layca(p, base="adam"),
}
ON_TORCH_EXECUTOR = {"Layca SGD momentum (torch executor)": OPTIMIZERS["Layca SGD momentum"]}


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


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(v.nbytes for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v))


def run(shape_sets: list[str], dtypes: list[str], device: str) -> list[dict]:
    rows = []
    sync = (lambda _: torch.cuda.synchronize()) if device == "cuda" else (lambda _: None)
    for shape_set in shape_sets:
        for dtype in dtypes:
            weights, gradients = arrays(shape_set)
            params = [torch.nn.Parameter(torch.as_tensor(w).to(device, getattr(torch, dtype))) for w in weights]
            for p, g in zip(params, gradients):
                p.grad = torch.as_tensor(g).to(device, p.dtype)
            for name, factory in {**OPTIMIZERS, **(ON_TORCH_EXECUTOR if device == "cuda" else {})}.items():
                optimizer = factory(params)
                step = without_triton(optimizer.step) if name in ON_TORCH_EXECUTOR else optimizer.step
                ms = median_ms(step, sync, shape_set)
                rows.append(row("torch", shape_set, dtype, device, name, ms, state_bytes(optimizer)))
                print(rows[-1], flush=True)
                del optimizer
    return rows

"""torch: Layca (momentum, adam bases) against torch.optim SGD-momentum and Adam, foreach and fused."""

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
            for name, factory in OPTIMIZERS.items():
                optimizer = factory(params)
                ms = median_ms(optimizer.step, sync, shape_set)
                rows.append(row("torch", shape_set, dtype, device, name, ms, state_bytes(optimizer)))
                print(rows[-1], flush=True)
                del optimizer
    return rows

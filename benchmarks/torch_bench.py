"""torch: Layca (momentum, adam bases; default and ``fused=True``) against torch.optim's SGD-momentum and Adam
(foreach and fused) and the per-layer optimizers a user would pick instead: pytorch-optimizer's LARS, Nero and
SGDP, Lamb and AdamP, with their own defaults (the ``bench`` extra installs it).

Per family, every optimizer steps in the same interleaved rounds on its own copy of the parameters and gradients, so
each Layca step gets a ratio against every baseline and peer from one run, and each moves its weights as it would
alone (optimizers sharing weights would drive them along one another's steps; pytorch-optimizer's LARS writes its
momentum into the gradients). ``fused=True`` runs the compiled executor (on CUDA
its kernels are inductor's Triton kernels). The ``compiled-step`` family (on request: compiling a Layca step takes
minutes here) times ``torch.compile(optimizer.step)``, torch's recipe for a faster step, of the default and the
``fused=True`` Layca step, against eager Layca and torch's SGD compiled alike.
"""

from collections.abc import Callable
from typing import Any

import torch

import layca_torch
from benchmarks.shapes import arrays
from benchmarks.timing import compare, peak_rss_bytes


def _peer(name: str) -> Callable[..., torch.optim.Optimizer]:
    """A pytorch-optimizer class, or an error that says how to install it."""
    try:
        import pytorch_optimizer
    except ImportError as error:
        raise ImportError('The peer optimizers need pytorch-optimizer: pip install -e ".[bench]".') from error
    return getattr(pytorch_optimizer, name)


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
    "LARS (pytorch-optimizer)": lambda p: _peer("LARS")(p, lr=0.01, momentum=0.9),
    "Nero (pytorch-optimizer)": lambda p: _peer("Nero")(p, lr=0.01),
    "SGDP (pytorch-optimizer)": lambda p: _peer("SGDP")(p, lr=0.01, momentum=0.9),
    "Lamb (pytorch-optimizer)": lambda p: _peer("Lamb")(p, lr=1e-3),
    "AdamP (pytorch-optimizer)": lambda p: _peer("AdamP")(p, lr=1e-3),
    "SGD momentum (compiled step)": lambda p: CompiledStep(torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True)),
    "Layca SGD momentum (compiled step)": lambda p: CompiledStep(layca_torch.Layca(p, base="momentum", momentum=0.9)),
    "Layca SGD momentum (fused, compiled step)": lambda p: CompiledStep(
        layca_torch.Layca(p, base="momentum", momentum=0.9, fused=True)
    ),
}
FAMILIES = {
    "momentum": (
        ("Layca SGD momentum", "Layca SGD momentum (fused)"),
        ("SGD momentum (foreach)", "SGD momentum (fused)", "LARS (pytorch-optimizer)", "Nero (pytorch-optimizer)",
         "SGDP (pytorch-optimizer)"),
    ),
    "adam": (
        ("Layca Adam", "Layca Adam (fused)"),
        ("Adam (foreach)", "Adam (fused)", "Lamb (pytorch-optimizer)", "AdamP (pytorch-optimizer)"),
    ),
    "compiled-step": (
        ("Layca SGD momentum (compiled step)", "Layca SGD momentum (fused, compiled step)"),
        ("Layca SGD momentum", "SGD momentum (foreach)", "SGD momentum (compiled step)"),
    ),
}  # fmt: skip
"""Per family: the Layca steps, then the baselines and peers each of them is timed against."""
DEFAULT_FAMILIES = ("momentum", "adam")


def state_bytes(optimizer: Any) -> int:
    return sum(v.nbytes for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v))


def peak_cuda_bytes(step: Callable[[], Any], sync: Callable[[Any], Any]) -> int:
    """How far one step raises the memory torch holds on the GPU above what it held before it."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    sync(step())
    return torch.cuda.max_memory_allocated() - before


def parameters(weights: list, gradients: list, device: str, dtype: Any) -> list[torch.nn.Parameter]:
    """A fresh copy of the weights as parameters, each with a copy of its gradient as ``grad``."""
    params = [torch.nn.Parameter(torch.as_tensor(w).to(device, dtype)) for w in weights]
    for p, g in zip(params, gradients):
        p.grad = g.clone()
    return params


def run(
    shape_sets: list[str],
    dtypes: list[str],
    device: str,
    rounds: int | None = None,
    families: tuple[str, ...] = DEFAULT_FAMILIES,
) -> list[dict]:
    rows = []
    sync = (lambda _: torch.cuda.synchronize()) if device == "cuda" else (lambda _: None)
    peak = peak_cuda_bytes if device == "cuda" else peak_rss_bytes
    for shape_set in shape_sets:
        for dtype in dtypes:
            weights, arrays_of_gradients = arrays(shape_set)
            gradients = [torch.as_tensor(g).to(device, getattr(torch, dtype)) for g in arrays_of_gradients]
            for candidates, baselines in (FAMILIES[family] for family in families):
                names = (*candidates, *baselines)
                optimizers = {
                    n: OPTIMIZERS[n](parameters(weights, gradients, device, getattr(torch, dtype))) for n in names
                }
                steps = {name: (o.step, lambda o=o: state_bytes(o)) for name, o in optimizers.items()}
                rows += compare(("torch", shape_set, dtype, device), steps, candidates, sync, peak, rounds)
                del optimizers, steps
    return rows

"""The two ``torch.compile`` kernels of ``CompiledExecutor``; imported only when that executor runs.

Each reads one flat, contiguous layer; inductor turns each into one loop (products and sums in
float64 registers, nothing materialised). Shapes are dynamic: one compilation per dtype serves every
layer size.
"""

import functools
import importlib
from typing import Any, NamedTuple

torch: Any = importlib.import_module("torch")  # already imported: the executor runs on torch tensors


def _sums(w: Any, x: Any) -> Any:
    """``|w|^2, <w, x>, |x|^2`` in float64: products of 32-bit or narrower entries are exact there."""
    w, x = w.double(), x.double()
    return torch.stack([(w * w).sum(), (w * x).sum(), (x * x).sum()])


def _combined(w: Any, x: Any, a: Any, b: Any, factor: Any) -> Any:
    """``a w + b (factor x)`` in float32 (``a``, ``b``, ``factor``: 0-d float32), rounded once to ``w``'s dtype."""
    return (a * w.float() + b * (x.float() * factor)).to(w.dtype)


def _combine_(w: Any, x: Any, a: Any, b: Any, factor: Any) -> None:
    """``_combined`` written into ``w``."""
    w.copy_(_combined(w, x, a, b, factor))


class Kernels(NamedTuple):
    sums: Any
    combined: Any
    combine_: Any


@functools.cache
def kernels() -> Kernels:
    """The kernels, each compiled at its first call (seconds, once per process and dtype)."""
    return Kernels(*(torch.compile(f, dynamic=True, fullgraph=True) for f in (_sums, _combined, _combine_)))

"""The kernels of ``CompiledExecutor``: ``torch.compile``d, each at its first call, for an eager step (``kernels``);
uncompiled inside a step ``torch.compile`` traces (``PLAIN``: inductor fuses them into that step).

Each reads one layer (flat and contiguous in an eager step); inductor turns each into one loop (products and sums in
float64 registers, nothing materialised). Shapes are dynamic: one compilation per dtype serves every layer size.
``kernels(finite=True)`` read a step's non-finite entries as 0, by a ``where`` in that loop (it costs a sixth of the
sums' time, two fifths of a bfloat16 apply's: an eager step leaves it to the layers whose sums find such an entry).
``stepped_sums`` also takes the base direction's step in the same loop, from the base's own
definition (``layca_core.directions``) traced over torch's primitives: one compilation per base and dtype.
"""

import functools
import types
from typing import Any, NamedTuple

import torch

from layca_core.directions import BaseDirection
from layca_torch._executors.bases import TORCH


def sums_of(w: Any, x: Any) -> Any:
    """``|w|^2, <w, x>, |x|^2`` in float64: products of 32-bit or narrower entries are exact there."""
    w, x = w.double(), x.double()
    return torch.stack([(w * w).sum(), (w * x).sum(), (x * x).sum()])


def _stepped_sums(w: Any, g: Any, state: Any, base: BaseDirection) -> tuple[Any, Any]:
    """``base``'s step from ``g`` (non-finite entries read as 0) and ``state`` (written in place), and ``sums_of`` of
    ``w`` and that step: the state's tensors are read and written once, the step written only if it is new."""
    (step,), _ = base.steps(TORCH, TORCH.finite([g]), [state])
    return sums_of(w, step), step


def combined(w: Any, x: Any, a: Any, b: Any, factor: Any) -> Any:
    """``a w + b (factor x)`` in float32 (``a``, ``b``, ``factor``: 0-d float32), rounded once to ``w``'s dtype."""
    return (a * w.float() + b * (x.float() * factor)).to(w.dtype)


def _combine_(w: Any, x: Any, a: Any, b: Any, factor: Any) -> None:
    """``combined`` written into ``w``."""
    w.copy_(combined(w, x, a, b, factor))


def _finite(x: Any) -> Any:
    """``x`` with its non-finite entries read as 0."""
    return torch.where(torch.isfinite(x), x, 0)


def finite_sums_of(w: Any, x: Any) -> Any:
    """``sums_of``, non-finite entries of ``x`` read as 0."""
    return sums_of(w, _finite(x))


def finite_combined(w: Any, x: Any, a: Any, b: Any, factor: Any) -> Any:
    """``combined``, non-finite entries of ``x`` read as 0."""
    return combined(w, _finite(x), a, b, factor)


def _finite_combine_(w: Any, x: Any, a: Any, b: Any, factor: Any) -> None:
    """``finite_combined`` written into ``w``."""
    w.copy_(finite_combined(w, x, a, b, factor))


class Kernels(NamedTuple):
    sums: Any
    combined: Any
    combine_: Any


PLAIN = Kernels(sums_of, combined, _combine_)
"""The kernels uncompiled, for a step ``torch.compile`` traces (no compilation nested in it)."""


@functools.cache
def kernels(finite: bool = False) -> Kernels:
    """The kernels (``finite``: those that read a step's non-finite entries as 0), each compiled at its first call
    (seconds, once per process and dtype)."""
    functions = (finite_sums_of, finite_combined, _finite_combine_) if finite else PLAIN
    return Kernels(*(_compiled(f) for f in functions))


@functools.cache
def stepped_sums(base: BaseDirection) -> Any:
    """``_stepped_sums`` for ``base`` (bases are cached per hyperparameters), compiled at its first call.

    Each base gets a function of its own, with a copy of the code and ``base`` as its default: dynamo keeps its
    compilations, and its limit on their number, per code object, and every base is a new compilation (a
    ``functools.partial`` would share the code of dynamo's own wrapper, and the ninth base would fail to compile).
    """
    code = _stepped_sums.__code__.replace()
    return _compiled(types.FunctionType(code, _stepped_sums.__globals__, "stepped_sums", (base,)))


def _compiled(f: Any) -> Any:
    return torch.compile(f, dynamic=True, fullgraph=True)

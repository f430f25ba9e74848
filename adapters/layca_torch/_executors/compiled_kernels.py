"""The kernels of ``CompiledExecutor``: ``torch.compile``d, each at its first call, for an eager step (``kernels``);
uncompiled inside a step ``torch.compile`` traces (``PLAIN``: inductor fuses them into that step).

Each reads one layer (flat and contiguous in an eager step); inductor turns each into one loop (products and sums in
float64 registers, nothing materialised). Shapes are dynamic: one compilation per dtype serves every layer size.
``kernels(finite=True)`` read a step's non-finite entries as 0, by a ``where`` in that loop (it costs a sixth of the
sums' time, two fifths of a bfloat16 apply's: an eager step leaves it to the layers whose sums find such an entry).
``stepped_sums`` also forms the base direction's step in the same loop, from the base's own
definition (``layca_core.directions``) traced over torch's primitives, without writing it; ``stepped_combine_`` takes
it again and writes the base state with the weights: one compilation per base and dtype.
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


def _stepped_sums(base: BaseDirection, w: Any, g: Any, state: Any) -> Any:
    """``sums_of`` of ``w`` and ``base``'s step from ``g`` (non-finite entries read as 0) and ``state``, the step
    formed in the loop from copies of the state (nothing written: ``stepped_combine_`` takes the step again)."""
    (step,), _ = base.steps(TORCH, TORCH.finite([g]), [type(state)(*(t.clone() for t in state))])
    return sums_of(w, step)


def _step(base: BaseDirection, g: Any, state: Any) -> Any:
    """``base``'s step from ``g`` (non-finite entries read as 0) and ``state`` (written in place)."""
    (step,), _ = base.steps(TORCH, TORCH.finite([g]), [state])
    return step


def _stepped_combine_(base: BaseDirection, w: Any, g: Any, state: Any, a: Any, b: Any, factor: Any) -> None:
    """``base``'s step from ``g`` and ``state`` (written in place), and ``combined`` of ``w`` and that step written
    into ``w``: one loop reads the gradient, the state and the weights and writes the state and the weights."""
    (step,), _ = base.steps(TORCH, TORCH.finite([g]), [state])
    _combine_(w, step, a, b, factor)


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
    """``_stepped_sums`` for ``base`` (bases are cached per hyperparameters), compiled at its first call."""
    return _compiled(_for_base(_stepped_sums, base))


@functools.cache
def step(base: BaseDirection) -> Any:
    """``_step`` for ``base``, compiled at its first call (a layer whose step holds a non-finite entry)."""
    return _compiled(_for_base(_step, base))


@functools.cache
def stepped_combine_(base: BaseDirection) -> Any:
    """``_stepped_combine_`` for ``base``, compiled at its first call."""
    return _compiled(_for_base(_stepped_combine_, base))


def _for_base(f: Any, base: BaseDirection) -> Any:
    """``f`` with ``base`` bound, as a function with a code object of its own: dynamo keeps its compilations, and
    its limit on their number, per code object (a ``functools.partial`` shares one with every other), and every base
    is a new compilation."""

    def bound(*args: Any) -> Any:
        return f(base, *args)

    return types.FunctionType(bound.__code__.replace(), bound.__globals__, f.__name__, None, bound.__closure__)


def _compiled(f: Any) -> Any:
    return torch.compile(f, dynamic=True, fullgraph=True)

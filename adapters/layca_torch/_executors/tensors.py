"""What the torch executors share: per-layer scalars, step lists that carry a factor, and blocked elementwise
passes on the CPU."""

from collections.abc import Callable
from typing import Any

import torch

CHUNK = 16384
BLOCK = 1 << 19
WIDE = (torch.float32, torch.float64)
"""Entries per block of a CPU pass of several elementwise kernels (``blockwise``): the blocks of the few tensors it
reads and writes stay in cache, so the pass reads and writes each tensor in memory once. Measured on ResNet-50's and
GPT-2's shapes (one thread): 2^19 and 2^20 entries take 5-12% off the momentum and Adam steps; 2^16 adds 5-10% (each
kernel call costs microseconds)."""
SAFE_EXPONENT = 40
"""A step whose largest entry lies within ``2^+-SAFE_EXPONENT`` keeps every chunk sum of squares and dot of
float32 far from overflow and underflow unscaled."""


class Scaled(list):
    """Steps whose power-of-two scale is applied later, by the sums and the apply (``factors``, per layer)."""

    def __init__(self, xs: list[Any], factors: Any) -> None:
        super().__init__(xs)
        self.factors = factors


class Projected(Scaled):
    """``S - c w`` per layer, not formed: ``squares`` and ``combine`` read the steps and ``ws`` instead, so the
    steps are never written (``factors``: the scale the steps still carry, or None)."""

    def __init__(self, xs: list[Any], factors: Any, ws: list[Any], c: Any) -> None:
        super().__init__(xs, factors)
        self.ws, self.c = ws, c


class Rescaled(Scaled):
    """Weights times powers of two that may lie far from 1 (the engine's ``tau``, ``scales_weights``), not formed:
    ``squares`` multiplies them a tensor or a block of rows at a time before squaring; the weights are never written.
    ``source`` is the list they were given in (``sums`` of that list gives the unscaled ``|w|^2``)."""

    def __init__(self, xs: list[Any], factors: Any) -> None:
        super().__init__(xs, factors)
        self.source = xs


def factors_of(xs: list[Any]) -> Any:
    """The scale carried by ``xs`` (a ``Scaled`` list), or None."""
    return xs.factors if isinstance(xs, Scaled) else None


def per_layer(values: Any, like: list[Any]) -> list[Any]:
    """A vector of per-layer scalars as 0-d tensors in each tensor's dtype (no host sync)."""
    dtypes = {t.dtype for t in like}
    if len(dtypes) == 1:
        return list(values.to(dtypes.pop()).unbind())
    return [v.to(t.dtype) for v, t in zip(values.unbind(), like)]


def finite_copy(x: Any) -> Any:
    """A copy of ``x`` whose non-finite entries are 0: ``nan_to_num`` eagerly, one ``where`` inside ``torch.compile``
    (inductor vectorises it, where on the CPU it runs ``nan_to_num`` entry by entry, three times slower)."""
    if torch.compiler.is_compiling():
        return torch.where(torch.isfinite(x), x, 0)
    return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def per_chunk(items: list[Any], reduce: Any, acc: Any, device: Any, block_rows: int, pairs: bool = False) -> Any:
    """Per tensor (or pair of tensors), ``reduce(rows, index)`` over rows of ``CHUNK`` entries and the rest, added up
    (in ``acc`` on ``device``).

    Rows go ``block_rows`` at a time, so a reduction's temporary stays small (memory the allocator reuses).
    """
    return per_chunk_parts(items, lambda rows, index: (reduce(rows, index),), 1, acc, device, block_rows, pairs)[0]


def per_chunk_parts(
    items: list[Any], reduce: Any, parts: int, acc: Any, device: Any, block_rows: int, pairs: bool = False
) -> list[Any]:
    """``per_chunk`` of a ``reduce`` that returns ``parts`` values per block of rows: one vector per part, each
    added up as ``per_chunk`` adds its one (a block's rows are read once for all parts, while in cache)."""
    totals: list[list[Any]] = [[] for _ in range(parts)]
    for index, item in enumerate(items):
        flat = tuple(t.reshape(-1) for t in item) if pairs else (item.reshape(-1),)
        size = flat[0].numel()
        pieces: list[list[Any]] = [[] for _ in range(parts)]
        for start in range(0, size - size % CHUNK, block_rows * CHUNK):
            end = min(start + block_rows * CHUNK, size - size % CHUNK)
            rows = tuple(t[start:end].view(-1, CHUNK) for t in flat)
            for part, value in zip(pieces, reduce(rows if pairs else rows[0], index)):
                part.append(value)
        if size % CHUNK:
            rest = tuple(t[size - size % CHUNK :] for t in flat)
            for part, value in zip(pieces, reduce(rest if pairs else rest[0], index)):
                part.append(value.reshape(1))
        for total, part in zip(totals, pieces):
            total.append(torch.cat(part).sum() if part else torch.zeros((), dtype=acc, device=device))
    return [torch.stack(total) for total in totals]


def in_range(factors: Any) -> list[bool]:
    """Per layer, whether its power-of-two factor lies within ``2^-SAFE_EXPONENT .. 2^SAFE_EXPONENT`` (read on the
    host)."""
    return ((factors >= 2.0**-SAFE_EXPONENT) & (factors <= 2.0**SAFE_EXPONENT)).tolist()


def blockwise(apply: Callable[..., None], *lists: list[Any]) -> list[int]:
    """``apply(i, *tensors)`` for each index i of the lists whose tensors are CPU tensors of more than ``BLOCK``
    entries, 32- or 64-bit floats, contiguous and of one shape, on block after block of views of their flattened
    entries (outside ``torch.compile``); returns the other indices, left to the caller's multi-tensor kernels.

    torch's CPU kernels of 32- and 64-bit floats give every entry the same value whichever part of a split tensor it
    falls in (vectorised or not; ``tests/layca_torch/test_multi_tensor.py`` checks it), and a multi-tensor kernel on
    the CPU runs the single-tensor kernel on each tensor: a pass of several kernels gives the same bits block by
    block. Not so for 16-bit floats (``add_`` with ``alpha`` rounds differently in a tensor's vectorised body and its
    tail), which keep the multi-tensor kernels.
    """
    rest = []
    compiling = torch.compiler.is_compiling()
    for i, tensors in enumerate(zip(*lists)):
        first = tensors[0]
        size = first.numel()
        if compiling or not first.is_cpu or size <= BLOCK:
            rest.append(i)
            continue
        if not all(t.is_cpu and t.shape == first.shape and t.is_contiguous() and t.dtype in WIDE for t in tensors):
            rest.append(i)
            continue
        flat = [t.view(-1) for t in tensors]
        for start in range(0, size, BLOCK):
            apply(i, *(t[start : start + BLOCK] for t in flat))
    return rest

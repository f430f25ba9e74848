"""The Triton kernels of ``TritonExecutor``; imported only when that executor runs (it imports torch and triton).

Both kernels walk one table of rows ``(layer, w offset, x offset, out offset, count)``, one row per
chunk of ``CHUNK`` entries of a layer, offsets counted in elements from the first tensor of each
kind, so one launch covers every layer of a dtype group whatever their sizes. Full chunks load
without masks, and with offsets known to be multiples of 16 (``aligned``), so loads are vectorised.
"""

from typing import NamedTuple

import torch
import triton
import triton.language as tl

BLOCK = 1024
TILES = 8
CHUNK = BLOCK * TILES
COLUMNS = 5


@triton.jit
def _load(pointer, index, count, FULL: tl.constexpr):
    """Entries ``index`` of a chunk, unmasked when the chunk is full (so the loads can be vectorised)."""
    if FULL:
        value = tl.load(pointer + index)
    else:
        value = tl.load(pointer + index, mask=index < count, other=0)
    return value


@triton.jit
def _finite(x):
    return tl.where(tl.abs(x) < float("inf"), x, 0.0)


@triton.jit
def _chunk_sums(w_ptr, x_ptr, count, BLOCK: tl.constexpr, TILES: tl.constexpr, FULL: tl.constexpr):
    ww = tl.zeros([BLOCK], dtype=tl.float64)
    wx = tl.zeros([BLOCK], dtype=tl.float64)
    xx = tl.zeros([BLOCK], dtype=tl.float64)
    for tile in tl.static_range(TILES):
        index = tile * BLOCK + tl.arange(0, BLOCK)
        w = _load(w_ptr, index, count, FULL).to(tl.float64)
        x = _finite(_load(x_ptr, index, count, FULL).to(tl.float64))
        ww += w * w
        wx += w * x
        xx += x * x
    return tl.sum(ww, axis=0), tl.sum(wx, axis=0), tl.sum(xx, axis=0)


@triton.jit
def _sums_kernel(table, w_base, x_base, out, layers, BLOCK: tl.constexpr, TILES: tl.constexpr, ALIGNED: tl.constexpr):
    """Per layer, ``|w|^2, <w, x>, |x|^2`` in float64 (non-finite ``x`` as 0): one atomic add per row and sum."""
    row = table + tl.program_id(0) * 5
    layer, w_off, x_off, count = tl.load(row), tl.load(row + 1), tl.load(row + 2), tl.load(row + 4)
    if ALIGNED:
        w_off, x_off = tl.multiple_of(w_off, 16), tl.multiple_of(x_off, 16)
    if count == BLOCK * TILES:
        ww, wx, xx = _chunk_sums(w_base + w_off, x_base + x_off, count, BLOCK, TILES, True)
    else:
        ww, wx, xx = _chunk_sums(w_base + w_off, x_base + x_off, count, BLOCK, TILES, False)
    tl.atomic_add(out + layer, ww, sem="relaxed")
    tl.atomic_add(out + layers + layer, wx, sem="relaxed")
    tl.atomic_add(out + 2 * layers + layer, xx, sem="relaxed")


@triton.jit
def _chunk_combine(
    w_ptr, x_ptr, o_ptr, count, a, b, factor, BLOCK: tl.constexpr, TILES: tl.constexpr, FULL: tl.constexpr
):
    for tile in tl.static_range(TILES):
        index = tile * BLOCK + tl.arange(0, BLOCK)
        w = _load(w_ptr, index, count, FULL).to(tl.float32)
        x = _finite(_load(x_ptr, index, count, FULL).to(tl.float32)) * factor
        new = (a * w + b * x).to(o_ptr.dtype.element_ty)
        if FULL:
            tl.store(o_ptr + index, new)
        else:
            tl.store(o_ptr + index, new, mask=index < count)


@triton.jit
def _combine_kernel(
    table, w_base, x_base, o_base, a, b, factors, BLOCK: tl.constexpr, TILES: tl.constexpr, ALIGNED: tl.constexpr
):
    """``a w + b (factor x)`` per layer in float32 (non-finite ``x`` as 0), stored in the output's dtype."""
    row = table + tl.program_id(0) * 5
    layer, w_off, x_off = tl.load(row), tl.load(row + 1), tl.load(row + 2)
    o_off, count = tl.load(row + 3), tl.load(row + 4)
    if ALIGNED:
        w_off, x_off, o_off = tl.multiple_of(w_off, 16), tl.multiple_of(x_off, 16), tl.multiple_of(o_off, 16)
    a_l, b_l = tl.load(a + layer).to(tl.float32), tl.load(b + layer).to(tl.float32)
    factor = tl.load(factors + layer).to(tl.float32)
    pointers = (w_base + w_off, x_base + x_off, o_base + o_off)
    if count == BLOCK * TILES:
        _chunk_combine(*pointers, count, a_l, b_l, factor, BLOCK, TILES, True)
    else:
        _chunk_combine(*pointers, count, a_l, b_l, factor, BLOCK, TILES, False)


class Table(NamedTuple):
    """A dtype group's rows on the device, and whether every offset is a multiple of 16 elements."""

    rows: torch.Tensor
    aligned: bool


def table(ws: list[torch.Tensor], xs: list[torch.Tensor], outs: list[torch.Tensor], layers: list[int]) -> Table:
    """The rows of one dtype group (contiguous tensors of one dtype per kind)."""
    bases = (ws[0], xs[0], outs[0])
    rows = []
    for layer, tensors in zip(layers, zip(ws, xs, outs)):
        offsets = [_offset(t, base) for t, base in zip(tensors, bases)]
        count = tensors[0].numel()
        rows += [[layer, *(o + start for o in offsets), min(CHUNK, count - start)] for start in range(0, count, CHUNK)]
    aligned = all(offset % 16 == 0 for row in rows for offset in row[1:4])
    return Table(torch.tensor(rows, dtype=torch.int64).reshape(-1, COLUMNS).to(ws[0].device), aligned)


def _offset(tensor: torch.Tensor, base: torch.Tensor) -> int:
    distance, remainder = divmod(tensor.data_ptr() - base.data_ptr(), tensor.element_size())
    if remainder:
        raise ValueError(
            "Triton executor needs tensors of one dtype aligned to their element size; got a misaligned one."
        )
    return distance


def sums(table: Table, ws: list[torch.Tensor], xs: list[torch.Tensor], out: torch.Tensor) -> None:
    """Add the group's sums into ``out`` (3 x layers, float64, flat)."""
    if len(table.rows):
        grid = (len(table.rows),)
        _sums_kernel[grid](table.rows, ws[0], xs[0], out, out.numel() // 3, BLOCK, TILES, table.aligned)


def combine(table: Table, ws, xs, outs, a: torch.Tensor, b: torch.Tensor, factors: torch.Tensor) -> None:  # noqa: ANN001
    """Write ``a w + b factor x`` of the group's layers into ``outs``."""
    if len(table.rows):
        grid = (len(table.rows),)
        _combine_kernel[grid](table.rows, ws[0], xs[0], outs[0], a, b, factors, BLOCK, TILES, table.aligned)

"""The Triton kernels of ``TritonExecutor``; imported only when that executor runs (it imports torch and triton).

Both kernels walk one table of rows ``(layer, w offset, x offset, out offset, count)``, one row per
chunk of ``CHUNK`` entries of a layer, offsets counted in elements from the first tensor of each
kind, so one launch covers every layer of a dtype group whatever their sizes.
"""

import torch
import triton
import triton.language as tl

BLOCK = 1024
TILES = 8
CHUNK = BLOCK * TILES
COLUMNS = 5


@triton.jit
def _sums_kernel(table, w_base, x_base, out, layers, BLOCK: tl.constexpr, TILES: tl.constexpr):
    """Per layer, ``|w|^2, <w, x>, |x|^2`` in float64 (non-finite ``x`` as 0): one atomic add per row and sum."""
    row = table + tl.program_id(0) * 5
    layer, w_off, x_off, count = tl.load(row), tl.load(row + 1), tl.load(row + 2), tl.load(row + 4)
    ww = tl.zeros([BLOCK], dtype=tl.float64)
    wx = tl.zeros([BLOCK], dtype=tl.float64)
    xx = tl.zeros([BLOCK], dtype=tl.float64)
    for tile in tl.static_range(TILES):
        index = tile * BLOCK + tl.arange(0, BLOCK)
        mask = index < count
        w = tl.load(w_base + w_off + index, mask=mask, other=0).to(tl.float64)
        x = tl.load(x_base + x_off + index, mask=mask, other=0).to(tl.float64)
        x = tl.where(tl.abs(x) < float("inf"), x, 0.0)
        ww += w * w
        wx += w * x
        xx += x * x
    tl.atomic_add(out + layer, tl.sum(ww, axis=0))
    tl.atomic_add(out + layers + layer, tl.sum(wx, axis=0))
    tl.atomic_add(out + 2 * layers + layer, tl.sum(xx, axis=0))


@triton.jit
def _combine_kernel(table, w_base, x_base, o_base, a, b, factors, BLOCK: tl.constexpr, TILES: tl.constexpr):
    """``a w + b (factor x)`` per layer in float32 (non-finite ``x`` as 0), stored in the output's dtype."""
    row = table + tl.program_id(0) * 5
    layer, w_off, x_off = tl.load(row), tl.load(row + 1), tl.load(row + 2)
    o_off, count = tl.load(row + 3), tl.load(row + 4)
    a_l = tl.load(a + layer).to(tl.float32)
    b_l = tl.load(b + layer).to(tl.float32)
    factor = tl.load(factors + layer).to(tl.float32)
    for tile in tl.static_range(TILES):
        index = tile * BLOCK + tl.arange(0, BLOCK)
        mask = index < count
        w = tl.load(w_base + w_off + index, mask=mask, other=0).to(tl.float32)
        x = tl.load(x_base + x_off + index, mask=mask, other=0).to(tl.float32)
        x = tl.where(tl.abs(x) < float("inf"), x, 0.0) * factor
        new = a_l * w + b_l * x
        tl.store(o_base + o_off + index, new.to(o_base.dtype.element_ty), mask=mask)


def table(ws: list[torch.Tensor], xs: list[torch.Tensor], outs: list[torch.Tensor], layers: list[int]) -> torch.Tensor:
    """The rows of one dtype group (contiguous tensors of one dtype per kind) as an int64 device tensor."""
    bases = (ws[0], xs[0], outs[0])
    rows = []
    for layer, tensors in zip(layers, zip(ws, xs, outs)):
        offsets = [_offset(t, base) for t, base in zip(tensors, bases)]
        count = tensors[0].numel()
        rows += [[layer, *(o + start for o in offsets), min(CHUNK, count - start)] for start in range(0, count, CHUNK)]
    return torch.tensor(rows, dtype=torch.int64).reshape(-1, COLUMNS).to(ws[0].device)


def _offset(tensor: torch.Tensor, base: torch.Tensor) -> int:
    distance, remainder = divmod(tensor.data_ptr() - base.data_ptr(), tensor.element_size())
    if remainder:
        raise ValueError(
            "Triton executor needs tensors of one dtype aligned to their element size; got a misaligned one."
        )
    return distance


def sums(rows: torch.Tensor, ws: list[torch.Tensor], xs: list[torch.Tensor], out: torch.Tensor) -> None:
    """Add the group's sums into ``out`` (3 x layers, float64, flat)."""
    if len(rows):
        _sums_kernel[(len(rows),)](rows, ws[0], xs[0], out, out.numel() // 3, BLOCK=BLOCK, TILES=TILES)


def combine(rows: torch.Tensor, ws, xs, outs, a: torch.Tensor, b: torch.Tensor, factors: torch.Tensor) -> None:  # noqa: ANN001
    """Write ``a w + b factor x`` of the group's layers into ``outs``."""
    if len(rows):
        _combine_kernel[(len(rows),)](rows, ws[0], xs[0], outs[0], a, b, factors, BLOCK=BLOCK, TILES=TILES)

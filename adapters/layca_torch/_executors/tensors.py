"""What the torch executors share: per-layer scalars, and step lists that carry a factor."""

from typing import Any

import torch

CHUNK = 16384
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
    totals = []
    for index, item in enumerate(items):
        flat = tuple(t.reshape(-1) for t in item) if pairs else (item.reshape(-1),)
        size = flat[0].numel()
        pieces = []
        for start in range(0, size - size % CHUNK, block_rows * CHUNK):
            end = min(start + block_rows * CHUNK, size - size % CHUNK)
            rows = tuple(t[start:end].view(-1, CHUNK) for t in flat)
            pieces.append(reduce(rows if pairs else rows[0], index))
        if size % CHUNK:
            rest = tuple(t[size - size % CHUNK :] for t in flat)
            pieces.append(reduce(rest if pairs else rest[0], index).reshape(1))
        totals.append(torch.cat(pieces).sum() if pieces else torch.zeros((), dtype=acc, device=device))
    return torch.stack(totals)


def in_range(factors: Any) -> list[bool]:
    """Per layer, whether its power-of-two factor lies within ``2^-SAFE_EXPONENT .. 2^SAFE_EXPONENT`` (read on the
    host)."""
    return ((factors >= 2.0**-SAFE_EXPONENT) & (factors <= 2.0**SAFE_EXPONENT)).tolist()

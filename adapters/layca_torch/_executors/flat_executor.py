"""The engine's one-pass primitives for small CPU layers, a batch of equal-sized layers at a time.

A multi-tensor kernel costs about a microsecond per tensor on the CPU, so for hundreds of small layers the
number of kernels, not the arithmetic, sets the step's time. This executor stacks layers of the same shape
and dtype (and their steps) into one float64 matrix per batch of at most ``BATCH_ENTRIES`` entries, takes
``|w|^2, <w, s>, |s|^2`` of every row at once (products of 32-bit or narrower entries are exact in float64:
the engine's one-pass recipe), and writes ``a w + b s``, computed in float64 and rounded once, back with one
multi-tensor copy. The steps are only read; a non-finite entry makes its layer's float64 sum of squares
non-finite, and such a batch reads its non-finite entries as 0. Temporaries stay within a few batches,
whatever the model's size. Chosen by torch's policy (``policy.py``) for CPU layers of at most ``FLAT_MAX_SIZE`` entries.
"""

from typing import Any

import torch

from layca_torch._executors.multi_tensor import TorchExecutor
from layca_torch._executors.tensors import Scaled

BATCH_ENTRIES = 1 << 16


class FlatExecutor(TorchExecutor):
    """Stacked float64 sums and apply for small layers of 32 bits or fewer (the policy sends float64 ones elsewhere)."""

    exact_products = True

    def prepare(self, ws: list[Any]) -> "FlatExecutor":
        self.batches = _batches(ws)
        self._indices = [self.torch.tensor(batch) for batch in self.batches]
        self._dirty: set[int] = set()
        return self

    def finite(self, xs: list[Any]) -> list[Any]:
        """Left to ``sums``: a batch whose sums of squares are not all finite reads its non-finite entries as 0."""
        return list(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return Scaled(xs, factors)

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        torch = self.torch
        sums = torch.empty(3, len(ws), dtype=torch.float64)
        for number, (batch, index) in enumerate(zip(self.batches, self._indices)):
            w, x = self._stacked(ws, batch), self._stacked(xs, batch)
            squares = torch.linalg.vecdot(x, x)
            if not bool(torch.isfinite(squares).all()):
                self._dirty.add(number)
                x = _finite(x)
                squares = torch.linalg.vecdot(x, x)
            sums[:, index] = torch.stack([torch.linalg.vecdot(w, w), torch.linalg.vecdot(w, x), squares])
        return tuple(sums.unbind()) if with_squares else tuple(sums[:2].unbind())

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        torch = self.torch
        b = b * xs.factors if isinstance(xs, Scaled) else b  # powers of two: exact in float64
        new = list(ws)
        for number, (batch, index) in enumerate(zip(self.batches, self._indices)):
            x = self._stacked(xs, batch)
            x = _finite(x) if number in self._dirty else x
            rows = self._stacked(ws, batch).mul_(a[index, None]).addcmul_(x, b[index, None])
            rows = rows.view(-1, *ws[batch[0]].shape)
            if self.in_place:
                torch._foreach_copy_([ws[i] for i in batch], list(rows.unbind()))
            else:
                for r, i in zip(rows.to(ws[batch[0]].dtype).unbind(), batch):
                    new[i] = r
        return new

    def _stacked(self, xs: list[Any], batch: list[int]) -> Any:
        """The batch's tensors (of one shape) as the rows of one float64 matrix."""
        return self.torch.stack([xs[i] for i in batch]).double().view(len(batch), -1)


def _finite(x: Any) -> Any:
    return torch.where(torch.isfinite(x), x, 0)


def _batches(ws: list[Any]) -> list[list[int]]:
    """Indices of ``ws`` in batches of one shape and dtype, each of at most ``BATCH_ENTRIES`` entries (one layer at
    least)."""
    groups: dict[tuple[Any, Any], list[int]] = {}
    for i, w in enumerate(ws):
        groups.setdefault((w.shape, w.dtype), []).append(i)
    batches = []
    for (shape, _), members in groups.items():
        rows = max(1, BATCH_ENTRIES // max(shape.numel(), 1))
        batches += [members[start : start + rows] for start in range(0, len(members), rows)]
    return batches

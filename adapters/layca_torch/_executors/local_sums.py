"""``TorchExecutor``'s per-layer helpers over local tensors: the largest entry, the sums of squares and the dots
accumulated chunk by chunk (``tensors.per_chunk``), and the 16-bit tensors' float32 working copies.

A mixin: ``LocalSums`` reads the executor's ``torch``, ``acc`` (the accumulation dtype), ``device``, ``compiling`` and
``host_checks`` attributes, set by ``TorchExecutor.__init__``.
"""

from typing import Any

import torch

from layca_core.directions import scale_free_steps
from layca_torch._executors.bases import TORCH
from layca_torch._executors.tensors import CHUNK, WIDE, Pending, finite_copy, per_chunk, per_chunk_parts, per_layer

LOW_PRECISION = (torch.float16, torch.bfloat16)
BLOCK_ROWS = 64
FOLDED = ("momentum",)
"""Bases whose layer step is their one state tensor, written by elementwise kernels (``blend``): on the CPU the screen's
sums take that step block by block of rows (``_folded_sums``), each block summed while in cache."""
FOLDED_ROWS = 32
"""Rows per block of ``_folded_sums`` (the gradient's, the state's and the weights' rows then stay in cache together):
on ResNet-50's and GPT-2's shapes at one thread, 3-4% faster than 64."""


class LocalSums:
    """Per-layer reductions of ``TorchExecutor`` on the local entries of each tensor (no all-reduce)."""

    torch: Any
    acc: Any
    device: Any
    compiling: bool
    host_checks: bool
    _summed: dict[tuple[int, int], tuple[Any, ...]]
    _recomputing: bool

    def _is_low(self, x: Any) -> bool:
        return x.dtype in LOW_PRECISION

    def _scalars(self, values: Any, like: list[Any]) -> list[Any]:
        """A vector of per-layer scalars for a multi-tensor kernel: Python numbers on the CPU (a scalar-list kernel,
        far cheaper than a list of 0-d tensors for many small layers), else ``per_layer``'s 0-d tensors."""
        return values.tolist() if self.host_checks else per_layer(values, like)

    def _work(self, xs: list[Any]) -> list[Any]:
        """Float32 copies of 16-bit tensors, the others themselves."""
        return [x.float() if self._is_low(x) else x for x in xs]

    def _largest(self, xs: list[Any]) -> Any:
        """Per tensor, its largest absolute entry (NaN where it holds one), in the accumulation dtype."""
        torch = self.torch
        cutoff = 0 if self.compiling else CHUNK  # torch.compile does not trace _foreach_max
        large = [i for i, x in enumerate(xs) if x.numel() > cutoff]
        small = [i for i, x in enumerate(xs) if 0 < x.numel() <= cutoff]
        largest = torch.zeros(len(xs), dtype=self.acc, device=self.device)  # an empty shard counts 0
        if small:
            maxima = torch._foreach_max(torch._foreach_abs([xs[i] for i in small]))
            largest[small] = torch.stack(maxima).to(self.acc)
        if large:
            extremes = [torch.aminmax(xs[i]) for i in large]
            largest[large] = torch.stack([torch.maximum(-low, high) for low, high in extremes]).to(self.acc)
        return largest

    def _local_squares(self, xs: list[Any]) -> Any:
        """Per layer, the sum of squares of its local entries: chunk norms, added in float64 (a 16-bit tensor's
        norms computed and returned in float32: a bfloat16 norm is off by up to 2^-9, its layer's norm with it)."""
        torch = self.torch
        if all(x.numel() <= CHUNK for x in xs):
            low = [self._is_low(x) for x in xs]
            if any(low):
                norms = (
                    torch._foreach_norm(xs, 2, dtype=torch.float32) if all(low) else torch._foreach_norm(self._work(xs))
                )
            else:
                norms = torch._foreach_norm(xs, 2)
            return torch.stack(norms).to(self.acc) ** 2

        return self._chunked_squares(xs)

    def _chunked_squares(self, xs: list[Any]) -> Any:
        """``_local_squares`` by chunks, whatever the sizes (each layer's value depends on its tensor only)."""
        return per_chunk(xs, lambda rows, _: self._row_squares(rows), self.acc, self.device, BLOCK_ROWS)

    def _chunked_sums(self, ws: list[Any], xs: list[Any], with_squares: bool) -> list[Any]:
        """``_chunked_squares(ws)``, ``_chunked_dots(ws, xs)`` and, ``with_squares``, ``_chunked_squares(xs)``, the
        same values in one pass: each block of rows is read once for all of them."""
        buffers: dict[Any, Any] = {}

        def reduce(pair: tuple[Any, Any], _: int) -> tuple[Any, ...]:
            return self._block_sums(*pair, with_squares, buffers)

        items = list(zip(ws, xs))
        return per_chunk_parts(items, reduce, 2 + with_squares, self.acc, self.device, BLOCK_ROWS, pairs=True)

    def _foldable(self, base: Any, grads: list[Any], states: list[Any]) -> bool:
        """Whether ``_folded_sums`` takes these steps: a ``FOLDED`` base, the chunked screen, contiguous 32- or 64-bit
        gradients and states of one shape per layer."""
        if base.name not in FOLDED or all(g.numel() <= CHUNK for g in grads):
            return False
        return all(
            t.is_contiguous() and t.shape == g.shape and t.dtype in WIDE for g, s in zip(grads, states) for t in (g, *s)
        )

    def _folded_sums(self, ws: list[Any], pending: Pending, with_squares: bool) -> list[Any]:
        """``_chunked_sums`` of the base steps ``pending`` defers, each taken a block of rows at a time just before
        the block is summed: the gradient's rows (copied with non-finite entries as 0 where their norm is not
        finite, as ``TorchPrimitives.finite`` does for whole tensors), then the base step into the state's rows (the
        same kernels entry by entry: ``tensors.blockwise``). The steps (the states' tensors) replace the gradients."""
        torch, steps, buffers = self.torch, scale_free_steps(pending.base), {}

        def reduce(rows: tuple[Any, ...], i: int) -> tuple[Any, ...]:
            w, g, *state = rows
            g = g if bool(torch.isfinite(torch.linalg.vector_norm(g))) else finite_copy(g)
            (x,), _ = steps(TORCH, [g], [type(pending.states[i])(*state)])
            return self._block_sums(w, x, with_squares, buffers)

        items = [(w, g, *state) for w, g, state in zip(ws, pending, pending.states)]
        sums = per_chunk_parts(items, reduce, 2 + with_squares, self.acc, self.device, FOLDED_ROWS, pairs=True)
        pending[:] = [state[0] for state in pending.states]
        return sums

    def _block_sums(self, w: Any, x: Any, with_squares: bool, buffers: dict[Any, Any]) -> tuple[Any, ...]:
        """Per row of a block, ``|w|^2``, ``<w, x>`` and, ``with_squares``, ``|x|^2``."""
        dot = self._row_dots(w, x, buffers)
        return (self._row_squares(w), dot, self._row_squares(x)) if with_squares else (self._row_squares(w), dot)

    def _row_squares(self, rows: Any) -> Any:
        """Per row, its sum of squares: its norm (in float32 for 16-bit rows) squared in the accumulation dtype."""
        wide = self.torch.float32 if self._is_low(rows) else None
        return self.torch.linalg.vector_norm(rows, dim=-1, dtype=wide).to(self.acc) ** 2

    def _row_dots(self, w: Any, x: Any, buffers: dict[Any, Any]) -> Any:
        """Per row, ``<w, x>`` summed in the working dtype; on the CPU the products go to one block per dtype in
        ``buffers``, reused (no fresh pages per block)."""
        torch = self.torch
        if not self.host_checks:
            return torch.sum(w * x, dim=-1).to(self.acc)
        dtype = torch.result_type(w, x)
        if dtype not in buffers:
            buffers[dtype] = torch.empty(BLOCK_ROWS * CHUNK, dtype=dtype, device=self.device)
        products = torch.mul(w, x, out=buffers[dtype][: w.numel()].view(w.shape))
        return torch.sum(products, dim=-1).to(self.acc)

    def _local_rescaled_squares(self, xs: list[Any], factors: Any) -> Any:
        """Per layer, ``|f x|^2`` over its local entries, ``f x`` formed in ``x``'s dtype per small tensor, or in blocks
        of rows (``f``: a power of two that brings the largest entry near 1; by 1, the bits of ``_local_squares``)."""
        torch = self.torch
        coefficients = per_layer(factors, xs)
        if all(x.numel() <= CHUNK for x in xs):
            return self._local_squares(torch._foreach_mul(xs, coefficients))
        return per_chunk(
            xs, lambda rows, i: self._row_squares(rows * coefficients[i]), self.acc, self.device, BLOCK_ROWS
        )

    def _local_projected_squares(self, ws: list[Any], xs: list[Any], c: Any) -> Any:
        """Per layer, ``|x - c w|^2`` over its local entries, without writing ``x``: per small tensor, or in blocks."""
        torch = self.torch
        if all(x.numel() <= CHUNK for x in xs):
            differences = torch._foreach_mul(self._work(ws), self._scalars(-c, xs))
            torch._foreach_add_(differences, xs)
            return torch.stack(torch._foreach_norm(differences, 2)).to(self.acc) ** 2
        coefficients = per_layer(c, xs)
        buffers: dict[Any, Any] = {}  # one block of differences per dtype, reused: no fresh pages per block

        def reduce(pair: tuple[Any, Any], i: int) -> Any:
            w, x = pair
            if x.dtype not in buffers:
                buffers[x.dtype] = torch.empty(BLOCK_ROWS * CHUNK, dtype=x.dtype, device=self.device)
            difference = torch.mul(w.to(x.dtype), coefficients[i], out=buffers[x.dtype][: x.numel()].view(x.shape))
            return torch.linalg.vector_norm(torch.sub(x, difference, out=difference), dim=-1).to(self.acc) ** 2

        return per_chunk(list(zip(ws, xs)), reduce, self.acc, self.device, BLOCK_ROWS, pairs=True)

    def _local_dots(self, ws: list[Any], xs: list[Any]) -> Any:
        """Per layer, ``<w, x>`` over its local entries: chunk dots in the working dtype, added in float64."""
        torch = self.torch
        if all(x.numel() <= CHUNK for x in xs):
            products = torch._foreach_mul(self._work(ws), xs)
            flat = torch.cat([p.reshape(-1) for p in products]).to(self.acc)
            lengths = torch.tensor([p.numel() for p in products], device=self.device)
            return torch.segment_reduce(flat, "sum", lengths=lengths)
        return self._chunked_dots(ws, xs)

    def _chunked_dots(self, ws: list[Any], xs: list[Any]) -> Any:
        """``_local_dots`` by chunks, whatever the sizes (each layer's value depends on its tensors only)."""
        buffers: dict[Any, Any] = {}

        def dot(pair: tuple[Any, Any], _: int) -> Any:
            return self._row_dots(pair[0], pair[1], buffers)

        return per_chunk(list(zip(ws, xs)), dot, self.acc, self.device, BLOCK_ROWS, pairs=True)

    def _screened_sums(self, ws: list[Any], xs: list[Any], with_squares: bool) -> list[Any]:
        """The rows of ``sums`` (unsharded, chunked: each layer's values depend on its own tensors only). The screen's
        are kept in ``_summed``; the recompute's read them there for the pairs the screen summed."""
        torch = self.torch
        known = [self._summed.get((id(w), id(x))) for w, x in zip(ws, xs)] if self._recomputing else [None] * len(ws)
        fresh = [i for i, k in enumerate(known) if k is None]
        if fresh:
            w, x = [ws[i] for i in fresh], [xs[i] for i in fresh]
            local = (
                self._folded_sums(ws, xs, with_squares)
                if isinstance(xs, Pending)
                else self._chunked_sums(w, x, with_squares)
            )
            for i, values in zip(fresh, torch.stack(local, dim=1).unbind()):
                known[i] = sums = values.unbind()
                if not self._recomputing:
                    self._summed[(id(ws[i]), id(xs[i]))] = sums
        return [torch.stack(row) for row in list(zip(*known))[: 3 if with_squares else 2]]

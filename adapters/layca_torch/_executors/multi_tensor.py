"""The engine's primitives for torch tensors as multi-tensor (``torch._foreach_*``) kernels.

Sums accumulate per chunk of ``CHUNK`` entries in the working dtype (tree-reduced, accurate
to a few ulps), and chunks are added in float64 (the engine's ``exact_products`` is False): on the CPU, unsharded,
the screened recipe (``screens``: one pass of sums, the two passes for the layers that fail the screen), elsewhere
the two passes. On the CPU the steps are only read (see ``TorchExecutor``); elsewhere they are cleaned of
non-finite entries (into copies, or in place with ``in_place``), then scaled and projected in place.
New weights are fresh tensors, or with ``in_place`` written into 32- and 64-bit weights (16-bit
weights are turned in float32 copies and rounded once). No host synchronisation except on the CPU,
where it costs nothing.

Sharded layers (``torch.distributed.tensor.DTensor``): every primitive works on the local
shards, and the per-layer partial sums are all-reduced (``collectives``).
"""

from collections.abc import Sequence
from typing import Any

import torch

from layca_core.directions import BaseDirection
from layca_torch._executors import bases
from layca_torch._executors.collectives import all_reduce
from layca_torch._executors.tensors import (
    CHUNK,
    Projected,
    Scaled,
    blockwise,
    factors_of,
    finite_copy,
    in_range,
    per_chunk,
    per_chunk_parts,
    per_layer,
)

LOW_PRECISION = (torch.float16, torch.bfloat16)
BLOCK_ROWS = 64


class TorchExecutor:
    """Multi-tensor primitives over local tensors.

    ``meshes[i]`` is layer i's ``(device_mesh, placements)`` when it is sharded, else None.
    ``in_place`` (an optimizer's own step): clean the steps in place and write the new 32- and 64-bit
    weights into ``ws``.

    On the CPU (outside ``torch.compile``), where reading a value on the host costs nothing, the steps
    are never written (``writes_steps`` False: a base may pass its state, e.g. a momentum buffer, as the
    step, and no parameter-sized step is allocated): ``finite`` is deferred to the screen's sums (a non-finite
    entry fails it) or to ``amax`` (only the layers that hold one are cleaned, into copies), a power-of-two ``scale``
    that keeps every sum far from overflow and underflow is carried (``Scaled``) into the sums and the
    apply (multiplying by a power of two in range is exact, so both give the same bits), and ``perp`` is
    not formed (``Projected``): its squares are summed block by block and the apply folds ``-c w`` into
    its coefficient of ``w``.
    """

    exact_products = False
    screens = False

    def __init__(self, xp: Any, device: Any, meshes: Sequence[Any] | None = None, in_place: bool = False) -> None:
        self.xp, self.torch, self.device, self.in_place = xp, torch, device, in_place
        self.acc = self.torch.float64 if device.type != "mps" else self.torch.float32
        self.meshes = list(meshes or [])
        self.compiling = self.torch.compiler.is_compiling()
        self.host_checks = device.type == "cpu" and not self.compiling
        self.writes_steps = not self.host_checks
        """Whether the primitives may write into the steps (else a caller may pass state tensors as steps)."""
        self._vectors: dict[tuple[float, ...], Any] = {}
        self._unclean: list[Any] | None = None
        self._summed: dict[tuple[int, int], tuple[Any, ...]] = {}
        """Per ``(w, x)`` pair (by identity), the screen's local ``(|w|^2, <w, x>, |x|^2)``, read again by the
        recompute's sums for the layers whose steps it leaves as they are."""
        self._recomputing = False

    def prepare(self, ws: list[Any]) -> "TorchExecutor":
        """On the CPU, unsharded: the screened recipe (one pass of sums; the two passes for the layers that fail the
        screen, found on the host). Elsewhere the two passes (reading a screen on a GPU would wait for it)."""
        self.screens = self.host_checks and not any(m is not None for m in self.meshes)
        return self

    def base_steps(
        self, base: BaseDirection, grads: list[Any], states: list[Any], scratch: bases.Scratch | None = None
    ) -> list[Any]:
        """``base``'s steps for the layers up to a positive factor per layer (non-finite gradient entries read as 0),
        its states written in place: the steps ``turn_layers`` takes from an optimizer that owns the states
        (``scratch``: where a fresh step is written, see ``bases.TorchPrimitives``)."""
        return bases.base_steps(
            base, grads, states, guard=True, owned=self.writes_steps, scale_free=True, scratch=scratch
        )

    def vector(self, values: Sequence[float]) -> Any:
        key = tuple(values)
        if key not in self._vectors:
            self._vectors[key] = self.torch.tensor(key, dtype=self.acc, device=self.device)
        return self._vectors[key]

    def per_tensor(self, values: Sequence[float]) -> Any:
        return self.vector(values)

    def finite(self, xs: list[Any]) -> list[Any]:
        """On the CPU left to ``amax``; else into copies, or in place for an optimizer's own steps (``in_place``)."""
        if self.host_checks:
            self._unclean = list(xs)
            return self._unclean
        if self.in_place:
            return [x.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0) for x in xs]
        return [finite_copy(x) for x in xs]

    def amax(self, xs: list[Any]) -> Any:
        largest = self._largest(xs)
        if xs is self._unclean:
            self._unclean = None
            dirty = [i for i, ok in enumerate(self.torch.isfinite(largest).tolist()) if not ok]
            for i in dirty:
                xs[i] = finite_copy(xs[i])
            if dirty:
                largest = self._largest(xs)
        return self._all_reduce(largest, maximum=True)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        if self.host_checks and not any(self._is_low(x) for x in xs):
            inside = in_range(factors)
            if all(inside):
                return Scaled(xs, factors)
            if self.screens:  # carry the factors in range; scale the steps of extreme layers into copies
                outside = [i for i, ok in enumerate(inside) if not ok]
                xs, factors = list(xs), factors.clone()
                for i in outside:
                    xs[i] = xs[i] * factors[i].to(xs[i].dtype)
                factors[outside] = 1.0
                return Scaled(xs, factors)
        work = self._work(xs)
        if self.writes_steps:
            self.torch._foreach_mul_(work, per_layer(factors, work))
            return work
        return [w.mul_(f) if w is not x else w * f for w, x, f in zip(work, xs, per_layer(factors, work))]

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        torch = self.torch
        if self.screens and not all(x.numel() <= CHUNK for x in xs):
            ww, wx, *xx = self._screened_sums(ws, xs, with_squares)
        else:
            parts = [self._local_squares(ws), self._local_dots(ws, xs)] + (
                [self._local_squares(xs)] if with_squares else []
            )
            ww, wx, *xx = self._all_reduce(torch.cat(parts)).reshape(len(parts), len(ws)).unbind()
        factor = factors_of(xs)
        return (ww, wx * factor, *(x * factor * factor for x in xx)) if factor is not None else (ww, wx, *xx)

    def squares(self, xs: list[Any]) -> Any:
        factor = factors_of(xs)
        if isinstance(xs, Projected):
            local = self._local_projected_squares(xs.ws, xs, xs.c if factor is None else xs.c / factor)
        else:
            local = self._local_squares(xs)
        squares = self._all_reduce(local)
        return squares * factor * factor if factor is not None else squares

    def perp(self, xs: list[Any], ws: list[Any], c: Any) -> list[Any]:
        factor = factors_of(xs)
        if not self.writes_steps:
            return Projected(xs, factor, ws, c)
        self.torch._foreach_addcmul_(xs, self._work(ws), per_layer(-c if factor is None else -c / factor, xs))
        return xs

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        factor = factors_of(xs)
        if isinstance(xs, Projected):  # a w + b (S - c w)
            a = a - b * xs.c
        work = self._work(ws)
        a, b = self._scalars(a, work), per_layer(b if factor is None else b * factor, work)
        if not self.in_place:
            work = self.torch._foreach_mul(work, a)
            self.torch._foreach_addcmul_(work, xs, b)
            return work
        rest = (
            blockwise(lambda i, w, x: w.mul_(a[i]).addcmul_(x, b[i]), work, xs) if self.host_checks else range(len(a))
        )
        if rest:
            self.torch._foreach_mul_([work[i] for i in rest], [a[i] for i in rest])
            self.torch._foreach_addcmul_([work[i] for i in rest], [xs[i] for i in rest], [b[i] for i in rest])
        return work

    def recompute(self, keep: Any, values: tuple[Any, ...], recipe: Any, ws: list[Any], xs: list[Any]) -> tuple:
        """``values``, with ``recipe``'s where ``keep`` is False (read on the host): only those layers take the two
        passes, their steps (``xs``, the engine's list) cleaned of non-finite entries in place (into copies)."""
        again = [i for i, ok in enumerate(keep.tolist()) if not ok]
        if not again:
            return values
        summed = [self._summed.get((id(ws[i]), id(xs[i]))) for i in again]
        unsure = [i for i, s in zip(again, summed) if s is None or not bool(torch.isfinite(s[2]))]  # else all finite
        if unsure:
            norms = torch._foreach_norm([xs[i] for i in unsure])  # non-finite where a step holds a non-finite entry
            for i, norm in zip(unsure, torch.stack(norms).isfinite().tolist()):
                xs[i] = xs[i] if norm else finite_copy(xs[i])
        index = torch.tensor(again, device=keep.device)
        self._recomputing = True
        try:
            recomputed = recipe(self, [ws[i] for i in again], [xs[i] for i in again])
        finally:
            self._recomputing = False
        return tuple(v.index_copy(0, index, r.to(v.dtype)) for v, r in zip(values, recomputed))

    def _screened_sums(self, ws: list[Any], xs: list[Any], with_squares: bool) -> list[Any]:
        """The rows of ``sums`` (unsharded, chunked: each layer's values depend on its own tensors only). The screen's
        are kept in ``_summed``; the recompute's read them there for the pairs the screen summed."""
        torch = self.torch
        known = [self._summed.get((id(w), id(x))) for w, x in zip(ws, xs)] if self._recomputing else [None] * len(ws)
        fresh = [i for i, k in enumerate(known) if k is None]
        if fresh:
            w, x = [ws[i] for i in fresh], [xs[i] for i in fresh]
            local = self._chunked_sums(w, x, with_squares)
            for i, values in zip(fresh, torch.stack(local, dim=1).unbind()):
                known[i] = values.unbind()
                if not self._recomputing:
                    self._summed[(id(ws[i]), id(xs[i]))] = known[i]
        return [torch.stack(row) for row in list(zip(*known))[: 3 if with_squares else 2]]

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
            w, x = pair
            dot = self._row_dots(w, x, buffers)
            return (self._row_squares(w), dot, self._row_squares(x)) if with_squares else (self._row_squares(w), dot)

        items = list(zip(ws, xs))
        return per_chunk_parts(items, reduce, 2 + with_squares, self.acc, self.device, BLOCK_ROWS, pairs=True)

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
        dot = lambda pair, _: self._row_dots(*pair, buffers)  # noqa: E731
        return per_chunk(list(zip(ws, xs)), dot, self.acc, self.device, BLOCK_ROWS, pairs=True)

    def _all_reduce(self, local: Any, maximum: bool = False) -> Any:
        return all_reduce(local, self.meshes, maximum)

"""The engine's primitives for torch tensors as multi-tensor (``torch._foreach_*``) kernels.

Sums accumulate per chunk of ``CHUNK`` entries in the working dtype (tree-reduced, accurate to a few ulps), and
chunks are added in float64 (the engine's ``exact_products`` is False): on the CPU, unsharded,
the screened recipe (``screens``: one pass of sums, the two passes for the layers that fail the screen), elsewhere
the two passes. On the CPU the steps are only read (see ``TorchExecutor``); elsewhere they are cleaned of
non-finite entries (into copies, or in place with ``in_place``), then scaled and projected in place.
New weights are fresh tensors, or with ``in_place`` written into 32- and 64-bit weights (16-bit weights are turned
in float32 copies and rounded once). No host synchronisation except on the CPU, where it costs nothing.

Sharded layers (``torch.distributed.tensor.DTensor``): every primitive works on the local
shards, and the per-layer partial sums are all-reduced (``collectives``).
"""

from collections.abc import Sequence
from typing import Any

import torch

from layca_core.directions import BaseDirection
from layca_torch._executors import bases
from layca_torch._executors.collectives import all_reduce
from layca_torch._executors.local_sums import LocalSums
from layca_torch._executors.tensors import (
    CHUNK,
    Pending,
    Projected,
    Rescaled,
    Scaled,
    blockwise,
    factors_of,
    finite_copy,
    in_range,
    per_layer,
)


class TorchExecutor(LocalSums):
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

    The weights are scaled (``scales_weights``: the two passes of a layer whose largest entry lies beyond
    ``2^(+-e/4)``) lazily (``Rescaled``), never written: ``squares`` forms ``tau w`` a tensor or a block of rows at a
    time, only for the layers with ``tau != 1`` on the CPU (read on the host); elsewhere for every layer, keeping the
    unscaled ``|w|^2`` of ``sums`` where ``tau`` is 1, so an ordinary step keeps its bits.
    """

    exact_products = False
    screens = False
    scales_weights = True

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
        self._steps: list[Any] | None = None
        """The list ``finite`` returned: the engine's steps, which ``scale`` may write; any other list is weights."""
        self._weight_squares: tuple[list[Any], Any] | None = None
        """The last ``sums``' ``(ws, |w|^2)``, which ``squares`` keeps for weights scaled by 1."""
        self._layers: list[Any] | None = None
        self._layers_largest: Any = None
        """Sharded: the layers ``prepare`` was given, and their largest entries, all-reduced with the steps' (one
        collective for both ``amax`` calls of the two passes)."""

    def prepare(self, ws: list[Any]) -> "TorchExecutor":
        """On the CPU, unsharded: the screened recipe (one pass of sums; the two passes for the layers that fail the
        screen, found on the host). Elsewhere the two passes (reading a screen on a GPU would wait for it)."""
        self.screens = self.host_checks and not any(m is not None for m in self.meshes)
        self._layers = ws if any(m is not None for m in self.meshes) else None
        return self

    def base_steps(
        self, base: BaseDirection, grads: list[Any], states: list[Any], scratch: bases.Scratch | None = None
    ) -> list[Any]:
        """``base``'s steps for the layers up to a positive factor per layer (non-finite gradient entries read as 0),
        its states written in place: the steps ``turn_layers`` takes from an optimizer that owns the states
        (``scratch``: where a fresh step is written, see ``bases.TorchPrimitives``). Screened, a momentum step is left
        to ``sums``, which takes it block by block (``Pending``, ``LocalSums._folded_sums``)."""
        if self.screens and self._foldable(base, grads, states):
            return Pending(grads, base, states)
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
            self._unclean = self._steps = xs if isinstance(xs, Pending) else list(xs)
        elif self.in_place:
            self._steps = [x.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0) for x in xs]
        else:
            self._steps = [finite_copy(x) for x in xs]
        return self._steps

    def amax(self, xs: list[Any]) -> Any:
        """Sharded, the steps' largest entries are all-reduced with the layers' (``prepare``'s), then kept for the
        two passes' ``amax`` of the weights: one collective for both."""
        layers = self._layers
        if layers is not None and self._layers_largest is not None and len(layers) == len(xs):
            if all(x is w for x, w in zip(xs, layers)):
                return self._layers_largest
        largest = self._largest(xs)
        if xs is self._unclean:
            self._unclean = None
            dirty = [i for i, ok in enumerate(self.torch.isfinite(largest).tolist()) if not ok]
            for i in dirty:
                xs[i] = finite_copy(xs[i])
            if dirty:
                largest = self._largest(xs)
        if xs is self._steps and layers is not None and len(layers) == len(xs):
            both = self._all_reduce(self.torch.cat([largest, self._largest(layers)]), maximum=True)
            self._layers_largest = both[len(xs) :]
            return both[: len(xs)]
        return self._all_reduce(largest, maximum=True)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        if xs is not self._steps:  # the weights (``scales_weights``): scaled by ``squares``, never written
            return Rescaled(xs, factors)
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
        self._weight_squares = (ws, ww)
        factor = factors_of(xs)
        return (ww, wx * factor, *(x * factor * factor for x in xx)) if factor is not None else (ww, wx, *xx)

    def squares(self, xs: list[Any]) -> Any:
        if isinstance(xs, Rescaled):
            return self._rescaled_squares(xs)
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
        passes, their steps (``xs``, the engine's list) cleaned of non-finite entries in place (into copies). The
        two passes' ``|w|^2`` and ``<w, s>`` are the screen's (``_summed``) for the steps left as they are, and a step
        whose screened ``|s|^2`` is finite holds no non-finite entry (no norm taken to find out)."""
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
        self._recomputing, steps = True, self._steps
        try:
            recomputed = recipe(self, [ws[i] for i in again], [xs[i] for i in again])
        finally:
            self._recomputing, self._steps = False, steps  # the engine's steps again, for its ``scale``
        return tuple(v.index_copy(0, index, r.to(v.dtype)) for v, r in zip(values, recomputed))

    def _rescaled_squares(self, xs: Rescaled) -> Any:
        """``|tau w|^2`` per layer: ``sums``' ``|w|^2`` where ``tau`` is 1, formed only for the other layers on the CPU
        (read on the host), for every layer elsewhere (and where ``sums`` did not run: a layer's initial norm)."""
        torch, tau = self.torch, xs.factors
        known = self._weight_squares[1] if self._weight_squares and self._weight_squares[0] is xs.source else None
        everywhere = known is None or not self.host_checks
        far = list(range(len(xs))) if everywhere else [i for i, f in enumerate(tau.tolist()) if f != 1]
        if known is not None and not far:
            return known
        local = torch.zeros(len(xs), dtype=self.acc, device=self.device)
        if far:
            local[far] = self._local_rescaled_squares([xs[i] for i in far], tau[far])
        squares = self._all_reduce(local)
        return squares if known is None else torch.where(tau == 1, known, squares)

    def _all_reduce(self, local: Any, maximum: bool = False) -> Any:
        return all_reduce(local, self.meshes, maximum)

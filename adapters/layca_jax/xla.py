"""The XLA executor: the reference primitives, screened (``turn.py``), with the exact two passes under one
``jax.lax.cond`` that XLA runs only when some layer fails the screen.

Under ``jax.jit`` on the CPU a Layca-momentum step is then four kinds of loops per layer, none writing a
parameter-sized temporary (the fallback's stacks of small layers aside, ``STACKED``): the momentum update, the sums
``|w|^2`` and ``|s|^2`` (one array each) and ``<w, s>``, and the apply ``k w + b (sigma s - c w)`` with the non-finite entries of ``s`` read as 0 inside it.

Compile time: XLA's CPU compiler generates the code of identical loops once, so the loops of two layers of one
shape cost one loop, unless a layer's loop reads its factors at its own index of a per-layer vector (a static slice
fused into the loop) or is fused with the other layers' loops. A traced step therefore takes each layer's factor out
of the vector as ``max(where(mask, v, -inf))`` with a constant one-hot ``mask`` (one small reduction per layer and
factor, the same loop for every layer) and keeps each layer's sums apart until they are stacked
(``optimization_barrier``). The fallback runs the two passes on the layers stacked by shape: a few loops per shape,
whatever the number of layers (per layer, they were about half of the step's compile time).
"""

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import numpy as np

from layca_core.engine import ReferenceExecutor
from layca_core.validation import check_nonzero_norms
from layca_jax.host import host_checked, layer_names

STACKED = 2**16
"""The most entries of one stack of the screen's fallback: a layer of at most half as many is stacked with the others
of its shape and dtype (a larger one, or one alone of its shape, is turned alone). The stacks are a jitted step's only
temporaries: two copies of the small layers, whatever their total (0.8 MiB for ResNet-50's)."""


class _Factored(NamedTuple):
    """A step whose factors (per-layer vectors) the apply's loop applies: ``sigma x - c w``."""

    x: Any
    sigma: Any
    c: Any = None


def _traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _alike(x: Any, y: Any) -> bool:
    """Whether two arrays have one shape and dtype (one may stand in for the other as a ``lax.cond`` result)."""
    return x.shape == y.shape and x.dtype == y.dtype


def _refuse_zero_weights(ws: list[Any], ndims: list[int], names: list[str], exclude: str) -> None:
    """Refuse, by name, the layers whose largest absolute entry is zero or not finite: the core's eager refusal of a
    zero or overflowing norm. ``ws``: the layers' weights on the host (NumPy; under ``jax.vmap`` with a batch axis in
    front of their ``ndims`` axes)."""
    largest = [np.max(np.abs(np.asarray(w)), axis=tuple(range(np.ndim(w) - n, np.ndim(w)))) for w, n in zip(ws, ndims)]
    columns = np.reshape(np.stack(largest, axis=-1), (-1, len(ws))).T
    check_nonzero_norms([0.0 if (c == 0).any() else float(np.max(c)) for c in columns], names, exclude=exclude)


class XlaExecutor(ReferenceExecutor):
    """``ReferenceExecutor`` with the screened recipe where the sums are not exact (no float64: JAX without x64).

    ``finite`` is then lazy: the screen's sums read the raw steps (a non-finite entry fails the screen) and
    ``scale`` cleans them in the apply's loop.

    Layers the adapter named (``layca_jax.named_layers``) whose ``|w|^2`` the step's first sums find zero or not
    finite (set to zero after their norm was stored) are refused by name: eagerly on the host, traced by
    ``host_checked`` in one ``lax.cond`` branch taken only then, so the jitted step fails whole and otherwise pays one
    comparison per layer.
    """

    def prepare(self, ws: list[Any]) -> "XlaExecutor":
        super().prepare(ws)
        self.screens = not self.exact_products and not any(self.stacked)
        self._masks: dict[int, list[Any]] = {}
        self._names = None if any(self.stacked) else layer_names(ws)
        return self

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        """The reference's sums; where the first ones of a step find a named layer's ``|w|^2`` zero or not finite
        (unscaled, a tiny or huge layer's may be), its largest entry decides (``_refuse_zero_weights``)."""
        values = super().sums(ws, xs, with_squares)
        if self._names is None:
            return values
        check = partial(_refuse_zero_weights, ndims=[w.ndim for w in ws], names=self._names[0], exclude=self._names[1])
        self._names, ww = None, values[0]
        bad = ~self.xp.all(self.xp.isfinite(ww) & (ww > 0))

        def checked(v: Any) -> Any:  # the weights go to the host as they are: no kernels of their own in the step
            return host_checked((v, list(ws)), lambda pair: check(pair[1]))[0]

        if _traced(bad):
            ww = jax.lax.cond(bad, checked, lambda v: v, ww)
        elif bool(bad):
            check(ws)
        return (ww, *values[1:])

    def finite(self, xs: list[Any]) -> list[Any]:
        return list(xs) if self.screens else super().finite(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        """Traced, the steps with their factors, applied in ``combine``'s loop; else ``x * factor``, cleaned."""
        if self.screens and _traced(factors):
            return [_Factored(x, factors) for x in xs]
        return super().scale(super().finite(xs) if self.screens else xs, factors)

    def perp(self, xs: list[Any], ws: list[Any], c: Any) -> list[Any]:
        if xs and isinstance(xs[0], _Factored):
            return [x._replace(c=c) for x in xs]
        return super().perp(xs, ws, c)

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        """``a w + b (sigma s - c w)`` per layer in one loop for factored steps, every factor of a layer taken out of
        the vectors at once; else the reference's ``a w + b x``."""
        if not (xs and isinstance(xs[0], _Factored)):
            return super().combine(ws, xs, a, b)
        xp, c = self.xp, xs[0].c
        factors = self._picks(xp.stack([a, b, xs[0].sigma] + ([] if c is None else [c])))
        out = []
        for w, x, f in zip(ws, xs, factors):
            step = super().finite([x.x])[0]
            step = self._work(step) * self._like_work(f[2], step)
            step = step if c is None else step - self._like_work(f[3], w) * self._work(w)
            out.append(xp.astype(self._like_work(f[0], w) * self._work(w) + self._like_work(f[1], w) * step, w.dtype))
        return out

    def _per_layer(self, values: list[Any]) -> Any:
        """Traced, the layers' sums kept apart until stacked (fused into one loop they would make a new loop for
        each number of layers)."""
        return super()._per_layer(jax.lax.optimization_barrier(values) if values and _traced(values[0]) else values)

    def _split(self, vector: Any, xs: list[Any]) -> list[Any]:
        if any(self.stacked) or not _traced(vector):
            return super()._split(vector, xs)
        return self._picks(vector)

    def _picks(self, values: Any) -> list[Any]:
        """Each layer's entries of ``values`` (layers along the last axis) through its constant one-hot mask (exact:
        the other entries read as -inf)."""
        xp, size = self.xp, values.shape[-1]
        if size not in self._masks:
            with jax.ensure_compile_time_eval():  # constants: XLA keeps them out of the loops
                self._masks[size] = [xp.arange(size) == i for i in range(size)]
        lowest = xp.full_like(values, -xp.inf)
        return [xp.max(xp.where(mask, values, lowest), axis=-1) for mask in self._masks[size]]

    def recompute(self, keep: Any, values: tuple[Any, ...], recipe: Any, ws: list[Any], xs: list[Any]) -> tuple:
        """``values`` where every layer passes the screen; otherwise ``recipe``'s, run on the layers stacked by shape
        (``_stacked``), taken where ``keep`` is False. Traced, one ``lax.cond`` for the whole step (their number does
        not grow with the layers), whose branch returns the recipe's values alone: the selection by ``keep`` fuses
        into the step's other per-layer arithmetic instead of compiling loops of its own in the branch; an eager step
        reads ``keep`` (a ``cond`` of fresh closures would compile at every eager step)."""
        xp = self.xp
        if _traced(keep):
            # where every layer passes, ``where`` reads none of the branch's values: any vector of the right kind will
            # do, and one the step already has (not the constant ``tau``) compiles no loop in the branch
            unread = tuple(values[0] if _alike(v, values[0]) else v for v in values)
            redone = jax.lax.cond(xp.all(keep), lambda: unread, lambda: self._stacked(recipe, ws, xs))
        elif bool(xp.all(keep)):
            return tuple(values)
        else:
            redone = self._stacked(recipe, ws, xs)
        return tuple(xp.where(keep, v, r) for v, r in zip(values, redone))

    def _stacked(self, recipe: Any, ws: list[Any], xs: list[Any]) -> tuple:
        """``recipe`` run on the layers of at most ``STACKED`` entries stacked by shape and dtype, at most ``STACKED``
        entries per stack (stacks of one shape and count share their loops), on the larger ones (and those alone of
        their shape) one by one; its values put back in layer order."""
        xp = self.xp
        groups: dict[tuple, list[int]] = {}
        for i, (w, x) in enumerate(zip(ws, xs)):
            groups.setdefault((w.shape, w.dtype, x.dtype), []).append(i)
        chunks, alone = [], []
        for group in groups.values():
            count = STACKED // max(1, math.prod(ws[group[0]].shape))
            if count < 2 or len(group) < 2:
                alone += group
                continue
            chunks += [group[start : start + count] for start in range(0, len(group), count)]
        parts: list[Any] = []
        if alone:
            one_by_one = XlaExecutor(xp, ws[alone[0]]).prepare([ws[i] for i in alone])
            one_by_one.screens, one_by_one._names = False, None  # the two passes clean the steps before their first sum
            parts.append(recipe(one_by_one, [ws[i] for i in alone], [xs[i] for i in alone]))
        for chunk in chunks:
            stacked_ws = xp.stack([ws[i] for i in chunk])
            stacked = ReferenceExecutor(xp, stacked_ws, [True]).prepare([stacked_ws])
            parts.append(recipe(stacked, [stacked_ws], [xp.stack([xs[i] for i in chunk])]))
        order = alone + [i for chunk in chunks for i in chunk]
        redone = [xp.concat(column) for column in zip(*parts)]
        if order != list(range(len(ws))):
            back = [0] * len(order)
            for position, i in enumerate(order):
                back[i] = position
            redone = [v[xp.asarray(back)] for v in redone]
        return tuple(redone)

"""The XLA executor: the reference primitives, screened (``turn.py``), with each layer's two passes under a
``jax.lax.cond`` that XLA runs only for the layers that fail the screen.

Under ``jax.jit`` on the CPU a Layca-momentum step is then four kinds of loops per layer, none writing a
parameter-sized temporary: the momentum update, the sums ``|w|^2`` and ``|s|^2`` (one array each) and ``<w, s>``,
and the apply ``k w + b (sigma s - c w)`` with the non-finite entries of ``s`` read as 0 inside it. JAX is looked
up, never imported: the policy chooses this executor for JAX arrays only.
"""

import sys
from typing import Any

from layca_core.engine import ReferenceExecutor


class XlaExecutor(ReferenceExecutor):
    """``ReferenceExecutor`` with the screened recipe where the sums are not exact (no float64: JAX without x64).

    ``finite`` is then lazy: the screen's sums read the raw steps (a non-finite entry fails the screen) and
    ``scale`` cleans them in the apply's loop.
    """

    def prepare(self, ws: list[Any]) -> "XlaExecutor":
        super().prepare(ws)
        self.screens = not self.exact_products and not any(self.stacked)
        return self

    def finite(self, xs: list[Any]) -> list[Any]:
        return list(xs) if self.screens else super().finite(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return super().scale(super().finite(xs) if self.screens else xs, factors)

    def recompute(self, keep: Any, values: tuple[Any, ...], recipe: Any, ws: list[Any], xs: list[Any]) -> tuple:
        """Per layer, ``values`` or (only when ``keep`` is False) ``recipe``'s: under ``lax.cond`` when traced; an
        eager step reads ``keep`` (a ``cond`` of fresh closures would compile at every eager step)."""
        jax = sys.modules["jax"]  # imported already: the policy chose this executor for JAX arrays

        traced = isinstance(keep, jax.core.Tracer)
        rows = []
        for i, (w, x) in enumerate(zip(ws, xs)):

            def again(w: Any = w, x: Any = x) -> tuple:
                return tuple(v[0] for v in recipe(ReferenceExecutor(self.xp, w).prepare([w]), [w], [x]))

            kept = tuple(v[i] for v in values)
            if traced:
                rows.append(jax.lax.cond(keep[i], lambda kept=kept: kept, again))
            else:
                rows.append(kept if bool(keep[i]) else again())
        return tuple(self.xp.stack(column) for column in zip(*rows))

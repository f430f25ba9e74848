"""The engine's one-pass primitives for a step traced by ``torch.compile``: whole-tensor expressions inductor fuses.

Inside ``torch.compile(optimizer.step)`` nothing can be read on the host (a read breaks the graph), so the screened
recipe is out, and the two-pass recipe's per-chunk loops trace a graph that grows with every block of rows. This
executor writes one expression per layer instead: ``|w|^2, <w, s>, |s|^2`` in float64 over the whole tensor
(``compiled_kernels.sums_of``: products of 32-bit or narrower entries are exact there, so the sums are at least as
accurate as the multi-tensor executor's chunked ones, and float64 holds the square of every float32 from the smallest
subnormal to the largest finite number), and ``a w + b (factor s)`` in float32, rounded once to the layer's dtype
(``compiled_kernels.combined``). Inductor turns each layer's sums into one loop and its apply into another, the
cleaning of non-finite entries (a ``where``) folded into both; the steps are read, never written (a base may pass
its state, e.g. a momentum buffer, as the step). Float64 layers, or a device without float64, take the torch
executor's two passes. Chosen by torch's policy (``policy.py``) for unsharded layers while ``torch.compile`` traces.
"""

from typing import Any

from layca_torch._executors.compiled_kernels import combined, sums_of
from layca_torch._executors.multi_tensor import TorchExecutor
from layca_torch._executors.tensors import Scaled, finite_copy


class TracedExecutor(TorchExecutor):
    """Whole-tensor one-pass primitives (layers of 32 bits or fewer); the torch executor's two passes otherwise."""

    def prepare(self, ws: list[Any]) -> "TracedExecutor":
        torch = self.torch
        self.exact_products = self.acc == torch.float64 and all(w.dtype != torch.float64 for w in ws)
        self.writes_steps = not self.exact_products and not self.host_checks
        if not self.exact_products:
            super().prepare(ws)
        return self

    def finite(self, xs: list[Any]) -> list[Any]:
        """Non-finite entries read as 0, by a ``where`` inductor folds into the sums and the apply."""
        return [finite_copy(x) for x in xs] if self.exact_products else super().finite(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return Scaled(xs, factors) if self.exact_products else super().scale(xs, factors)

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        if not self.exact_products:
            return super().sums(ws, xs, with_squares)
        sums = self.torch.stack([sums_of(w, x) for w, x in zip(ws, xs)], dim=1)
        return tuple(sums.unbind()) if with_squares else tuple(sums[:2].unbind())

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        if not self.exact_products:
            return super().combine(ws, xs, a, b)
        torch = self.torch
        factors = xs.factors if isinstance(xs, Scaled) else torch.ones_like(a)
        new = []
        for w, x, (ai, bi, fi) in zip(ws, xs, torch.stack([a, b, factors]).float().T.unbind()):
            turned = combined(w, x, ai, bi, fi)
            new.append(w.copy_(turned) if self.in_place else turned)
        return new

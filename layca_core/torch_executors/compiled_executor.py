"""The engine's one-pass primitives on the CPU, with two ``torch.compile`` kernels (``compiled_kernels``).

``sums`` reads each layer once (``|w|^2, <w, s>, |s|^2`` in float64, products exact) and ``combine``
reads ``w`` and ``s`` once and writes ``w``: five words per entry for the turn, where the torch
executor's two-pass recipe takes about twelve. Each kernel call costs tens of microseconds, so the
engine's policy gives it layers of more than ``COMPILED_MIN_SIZE`` entries, the torch executor the others.

The steps are read, never written (a base may pass its state, e.g. a momentum buffer, as the step):
non-finite entries are found by the sums (a float64 sum of squares of 32-bit entries is finite
exactly when every entry is), and the layers that hold one are cleaned into copies and summed again;
the scale of ``scale`` is applied by ``combine``. Float64 or non-contiguous layers take the torch executor's
two-pass primitives. Chosen by the engine's policy (``layca_core.engine.policy``) with ``fused=True`` for CPU
tensors outside ``torch.compile``; the first step compiles (seconds).
"""

import importlib
from typing import Any

from layca_core.torch_executors.multi_tensor import TorchExecutor
from layca_core.torch_executors.tensors import Scaled


class CompiledExecutor(TorchExecutor):
    """Compiled kernels for the one-pass recipe (contiguous layers of 32 bits or fewer); torch ones otherwise."""

    def __init__(self, xp: Any, device: Any, meshes: Any = None, in_place: bool = False) -> None:
        super().__init__(xp, device, meshes, in_place)
        self.kernels = importlib.import_module("layca_core.torch_executors.compiled_kernels").kernels()

    def prepare(self, ws: list[Any]) -> "CompiledExecutor":
        torch = self.torch
        self.exact_products = all(w.dtype != torch.float64 and w.is_contiguous() for w in ws)
        return self

    def finite(self, xs: list[Any]) -> list[Any]:
        """Left to ``sums``, which cleans the layers whose sum of squares is not finite."""
        return list(xs) if self.exact_products else super().finite(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return Scaled(xs, factors) if self.exact_products else super().scale(xs, factors)

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        if not self.exact_products:
            return super().sums(ws, xs, with_squares)
        torch = self.torch
        sums = self._exact_sums(ws, xs)
        dirty = [i for i, ok in enumerate(torch.isfinite(sums[2]).tolist()) if not ok]
        for i in dirty:
            xs[i] = torch.nan_to_num(xs[i], nan=0.0, posinf=0.0, neginf=0.0)
        if dirty:
            sums = self._exact_sums(ws, xs)
        return tuple(sums.unbind()) if with_squares else tuple(sums[:2].unbind())

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        if not self.exact_products:
            return super().combine(ws, xs, a, b)
        torch = self.torch
        factors = xs.factors if isinstance(xs, Scaled) else torch.ones_like(a)
        new = list(ws)
        for i, (ai, bi, fi) in enumerate(torch.stack([a, b, factors]).float().T.unbind()):
            w, x = ws[i].view(-1), xs[i].reshape(-1)
            if self.in_place:
                self.kernels.combine_(w, x, ai, bi, fi)
            else:
                new[i] = self.kernels.combined(w, x, ai, bi, fi).view_as(ws[i])
        return new

    def _exact_sums(self, ws: list[Any], xs: list[Any]) -> Any:
        """``(3, layers)``: per layer ``|w|^2, <w, x>, |x|^2`` in float64, all-reduced over a mesh."""
        torch = self.torch
        local = [self.kernels.sums(w.view(-1), x.reshape(-1)) for w, x in zip(ws, xs)]
        return self._all_reduce(torch.stack(local, dim=1).reshape(-1)).reshape(3, len(ws))

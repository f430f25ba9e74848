"""The engine's one-pass primitives on the CPU, with two ``torch.compile`` kernels (``compiled_kernels``).

``sums`` reads each layer once (``|w|^2, <w, s>, |s|^2`` in float64, products exact) and ``combine``
reads ``w`` and ``s`` once and writes ``w``: five words per entry for the turn, where the torch
executor's two-pass recipe takes about twelve. Each kernel call costs tens of microseconds, so the
policy (``policy.py``) gives it layers of more than ``COMPILED_MIN_SIZE`` entries, the torch executor the others.

The steps are read, never written (a base may pass its state, e.g. a momentum buffer, as the step):
non-finite entries are found by the sums (a float64 sum of squares of 32-bit entries is finite
exactly when every entry is), and the layers that hold one are cleaned into copies and summed again;
the scale of ``scale`` is applied by ``combine``. An optimizer's base step is taken in the sums' loop
(``base_steps``): for SGD-momentum the turn reads the gradient, the buffer and the weights once, writes the buffer,
then reads the weights and the buffer and writes the weights: seven words per entry, against eight for
torch's foreach SGD-momentum. Float64 or non-contiguous layers take the torch executor's
two-pass primitives. Chosen by torch's policy (``policy.py``) with ``fused=True`` for CPU
tensors outside ``torch.compile``; the first step compiles (seconds).
"""

from typing import Any

from layca_core.directions import BaseDirection
from layca_torch._executors import compiled_kernels
from layca_torch._executors.bases import Scratch
from layca_torch._executors.multi_tensor import TorchExecutor
from layca_torch._executors.tensors import Scaled, finite_copy


class Pending(list):
    """Gradients whose base steps ``sums`` takes as it reads them (``base``, ``states``); the steps replace them."""

    def __init__(self, grads: list[Any], base: BaseDirection, states: list[Any]) -> None:
        super().__init__(grads)
        self.base, self.states = base, states


class CompiledExecutor(TorchExecutor):
    """Compiled kernels for the one-pass recipe (contiguous layers of 32 bits or fewer); torch ones otherwise."""

    def __init__(self, xp: Any, device: Any, meshes: Any = None, in_place: bool = False) -> None:
        super().__init__(xp, device, meshes, in_place)
        self.kernels, self.stepped_sums = compiled_kernels.kernels(), compiled_kernels.stepped_sums

    def prepare(self, ws: list[Any]) -> "CompiledExecutor":
        torch = self.torch
        self.exact_products = all(w.dtype != torch.float64 and w.is_contiguous() for w in ws)
        return self

    def base_steps(
        self, base: BaseDirection, grads: list[Any], states: list[Any], scratch: Scratch | None = None
    ) -> list[Any]:
        """Left to ``sums`` (``Pending``) where the base states are contiguous tensors shaped like the layers (not
        plain SGD, whose step is the gradient itself: nothing to fold); the torch executor's otherwise."""
        if self.exact_products and all(_foldable(g, state) for g, state in zip(grads, states)):
            return Pending(grads, base, states)
        return super().base_steps(base, grads, states, scratch)

    def finite(self, xs: list[Any]) -> list[Any]:
        """Left to ``sums``, which cleans the layers whose sum of squares is not finite."""
        if isinstance(xs, Pending):
            return xs
        return list(xs) if self.exact_products else super().finite(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return Scaled(xs, factors) if self.exact_products else super().scale(xs, factors)

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        if not self.exact_products:
            return super().sums(ws, xs, with_squares)
        torch = self.torch
        sums = self._all_reduced(self._take_steps(ws, xs) if isinstance(xs, Pending) else self._local_sums(ws, xs))
        dirty = [i for i, ok in enumerate(torch.isfinite(sums[2]).tolist()) if not ok]
        for i in dirty:
            xs[i] = finite_copy(xs[i])
        if dirty:
            sums = self._all_reduced(self._local_sums(ws, xs))
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

    def _local_sums(self, ws: list[Any], xs: list[Any]) -> list[Any]:
        """Per layer, ``(|w|^2, <w, x>, |x|^2)`` over its local entries, in float64."""
        return [self.kernels.sums(w.view(-1), x.reshape(-1)) for w, x in zip(ws, xs)]

    def _take_steps(self, ws: list[Any], pending: Pending) -> list[Any]:
        """``_local_sums`` of each layer and its base step, taken in the same loop; the steps replace the gradients
        in ``pending``."""
        kernel = self.stepped_sums(pending.base)
        local = []
        for i, (w, g, state) in enumerate(zip(ws, pending, pending.states)):
            flat = type(state)(*(t.view(-1) if t.shape == g.shape else t for t in state))
            sums, pending[i] = kernel(w.view(-1), g.reshape(-1), flat)
            local.append(sums)
        return local

    def _all_reduced(self, local: list[Any]) -> Any:
        """``(3, layers)``: the local sums, all-reduced over a mesh."""
        return self._all_reduce(self.torch.stack(local, dim=1).reshape(-1)).reshape(3, len(local))


def _foldable(g: Any, state: Any) -> bool:
    """Whether every tensor of the base state is contiguous and shaped like the gradient (there is one at least).

    Not Adam's: inductor computes its bias corrections (powers of the step counter) again at every entry, which
    made the folded Adam step slower than the eager base step followed by the sums.
    """
    return len(state) > 0 and all(t.shape == g.shape and t.is_contiguous() for t in state)

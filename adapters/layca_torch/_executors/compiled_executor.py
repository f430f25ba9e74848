"""The engine's one-pass primitives as two kernels inductor fuses (``compiled_kernels``): with ``fused=True`` (on the
CPU and on CUDA, where inductor writes them as Triton kernels), and for every unsharded layer of 32 bits or fewer
inside ``torch.compile``.

``sums`` reads each layer once (``|w|^2, <w, s>, |s|^2`` in float64: products of 32-bit or narrower entries are
exact there, and float64 holds the square of every float32 from the smallest subnormal to the largest finite number)
and ``combine`` reads ``w`` and ``s`` once and writes ``w`` (``a w + b (factor s)`` in float32, rounded once to the
layer's dtype): five words per entry for the turn, where the multi-tensor executor's two-pass recipe takes about
twelve. The steps are read, never written (a base may pass its state, e.g. a momentum buffer, as the step): a step's
non-finite entries are read as 0 by a ``where`` in the kernels' loops, and nothing is copied.

In an eager step the kernels are ``torch.compile``d (the first step compiles: seconds) and run per flat layer; a call
costs tens of microseconds, so the policy (``policy.py``) gives them layers of more than ``COMPILED_MIN_SIZE``
entries. On the CPU the sums find the layers whose step holds a non-finite entry (a float64 sum of squares of 32-bit
entries is finite exactly when every entry is; read on the host, which costs nothing there): only those are summed
again and turned by the cleaning kernels. On CUDA nothing is read on the host: every layer takes the cleaning kernels
(their ``where`` costs a sixth of the sums), and the base step is the multi-tensor executor's. On the CPU an
optimizer's base step is formed in the sums' loop (``base_steps``) and
taken again, and written, in the apply's: for SGD-momentum the sums read the gradient, the buffer and the weights, the
apply reads them again and writes the buffer and the weights: eight words per entry, as torch's foreach SGD-momentum
(inductor cannot write a buffer in the loop of a sum that reads it: it wrote it in a second loop, nine words).
Inside ``torch.compile`` the kernels are expressions of the traced step, over whole tensors, and the ``where`` one
more, which inductor fuses into both loops (nothing read on the host). Float64 layers (a device without float64),
and non-contiguous layers in an eager step, take the multi-tensor executor's two passes.
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
    """Fused one-pass kernels (layers of 32 bits or fewer, contiguous in an eager step); two passes otherwise."""

    def __init__(self, xp: Any, device: Any, meshes: Any = None, in_place: bool = False) -> None:
        super().__init__(xp, device, meshes, in_place)
        self.kernels = (
            compiled_kernels.PLAIN if self.compiling else compiled_kernels.kernels(finite=not self.host_checks)
        )
        self._dirty: list[int] = []
        """In an eager step on the CPU, the layers whose step holds a non-finite entry (found by ``sums``)."""
        self._pending: Pending | None = None
        """This step's gradients and base states (``base_steps``), whose steps ``combine`` takes (``stepped_combine_``),
        but ``_dirty``'s."""

    def prepare(self, ws: list[Any]) -> "CompiledExecutor":
        torch = self.torch
        self.exact_products = self.acc == torch.float64 and all(
            w.dtype != torch.float64 and (self.compiling or w.is_contiguous()) for w in ws
        )
        self.writes_steps = not self.exact_products and not self.host_checks
        return self

    def base_steps(
        self, base: BaseDirection, grads: list[Any], states: list[Any], scratch: Scratch | None = None
    ) -> list[Any]:
        """In an eager step on the CPU that writes the weights (``in_place``), left to ``sums`` and ``combine`` (``Pending``)
        where the base states are contiguous tensors shaped like the layers (not plain SGD, whose step is the gradient
        itself: nothing to fold); the multi-tensor executor's otherwise."""
        foldable = all(_foldable(g, s) for g, s in zip(grads, states))
        self._pending = None
        if self.exact_products and self.in_place and self.host_checks and foldable:
            self._pending = Pending(grads, base, states)
            return self._pending
        return super().base_steps(base, grads, states, scratch)

    def finite(self, xs: list[Any]) -> list[Any]:
        """Eagerly, left to the kernels that read non-finite entries as 0 (on the CPU, for the layers where ``sums``
        finds one); traced, a ``where`` inductor fuses into the sums and the apply."""
        if isinstance(xs, Pending):
            return xs
        if not self.exact_products:
            return super().finite(xs)
        return [finite_copy(x) for x in xs] if self.compiling else list(xs)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return Scaled(xs, factors) if self.exact_products else super().scale(xs, factors)

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        if not self.exact_products:
            return super().sums(ws, xs, with_squares)
        if isinstance(xs, Pending):
            local = self._take_steps(ws, xs)
        else:
            local = [self.kernels.sums(self._flat(w), self._flat(x)) for w, x in zip(ws, xs)]
        sums = self._all_reduced(local)
        if self.host_checks:
            self._dirty = [i for i, ok in enumerate(self.torch.isfinite(sums[2]).tolist()) if not ok]
            if isinstance(xs, Pending) and self._dirty:
                self._take_dirty_steps(xs)
            for i in self._dirty:
                local[i] = compiled_kernels.kernels(finite=True).sums(self._flat(ws[i]), self._flat(xs[i]))
            sums = self._all_reduced(local) if self._dirty else sums
        return tuple(sums.unbind()) if with_squares else tuple(sums[:2].unbind())

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        if not self.exact_products:
            return super().combine(ws, xs, a, b)
        torch = self.torch
        factors = xs.factors if isinstance(xs, Scaled) else torch.ones_like(a)
        new, dirty, pending = list(ws), set(self._dirty), self._pending
        stepped = compiled_kernels.stepped_combine_(pending.base) if pending is not None else None
        for i, (ai, bi, fi) in enumerate(torch.stack([a, b, factors]).float().T.unbind()):
            w, x = self._flat(ws[i]), self._flat(xs[i])
            kernels = compiled_kernels.kernels(finite=True) if i in dirty else self.kernels
            if pending is not None and stepped is not None and i not in dirty:
                stepped(w, x, _flat_state(pending.states[i], xs[i]), ai, bi, fi)
            elif self.in_place:
                kernels.combine_(w, x, ai, bi, fi)
            else:
                new[i] = kernels.combined(w, x, ai, bi, fi).view_as(ws[i])
        return new

    def _flat(self, x: Any) -> Any:
        """An eager step's kernels read flat tensors (one compilation per dtype); a traced step's, whole ones."""
        return x if self.compiling else _flat(x)

    def _take_steps(self, ws: list[Any], pending: Pending) -> list[Any]:
        """Each layer's local sums of its base step, formed in the sums' loop and not written (``combine`` takes the
        step again and writes the states)."""
        kernel = compiled_kernels.stepped_sums(pending.base)
        return [kernel(_flat(w), _flat(g), _flat_state(state, g)) for w, g, state in zip(ws, pending, pending.states)]

    def _take_dirty_steps(self, pending: Pending) -> None:
        """The base steps of the layers whose step holds a non-finite entry, taken now (the state written in place)
        by the sums' own expression (``compiled_kernels.step``): they replace the gradients in ``pending``."""
        kernel = compiled_kernels.step(pending.base)
        for i in self._dirty:
            g = pending[i]
            pending[i] = kernel(_flat(g), _flat_state(pending.states[i], g)).view_as(g)

    def _all_reduced(self, local: list[Any]) -> Any:
        """``(3, layers)``: the local sums, all-reduced over a mesh."""
        sums = self.torch.stack(local, dim=1)
        return sums if all(m is None for m in self.meshes) else self._all_reduce(sums.reshape(-1)).reshape(sums.shape)


def _flat(x: Any) -> Any:
    """``x`` flat, as a tensor of its own sharing ``x``'s memory (not a view: dynamo guards on a view's base, whose
    shapes differ from layer to layer, and would compile the kernels again for each until its limit fails them)."""
    return x.reshape(-1).detach()


def _flat_state(state: Any, g: Any) -> Any:
    """A base state with its tensors shaped like the gradient ``g`` flat (``_flat``)."""
    return type(state)(*(_flat(t) if t.shape == g.shape else t for t in state))


def _foldable(g: Any, state: Any) -> bool:
    """Whether every tensor of the base state is contiguous and shaped like the gradient (there is one at least).

    Not Adam's: inductor computes its bias corrections (powers of the step counter) again at every entry, which
    made the folded Adam step slower than the eager base step followed by the sums.
    """
    return len(state) > 0 and all(t.shape == g.shape and t.is_contiguous() for t in state)

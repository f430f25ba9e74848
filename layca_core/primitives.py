"""The batched primitives every base direction is written over, and their per-tensor form.

A base direction (``layca_core.directions``) is defined once, as a function of lists of
tensors and a ``Primitives`` implementation: ``ARRAY`` below (array-API calls, pure, traced by
``jax.jit`` and ``tf.function``) or torch's multi-tensor one (the torch adapter's ``_executors/bases.py``,
``torch._foreach_*`` kernels that update the states in place). Each primitive is one line of
arithmetic; the two implementations agree to a few ulps, not bit for bit: torch's ``add(alpha=)``
and ``addcmul`` round once where the array API rounds after each operation (see docs/algorithm.md,
"Base directions").
"""

from typing import Any, Protocol

from layca_core._namespace import array_namespace
from layca_core.orthogonal import newton_schulz


class Primitives(Protocol):
    """Operations on lists of tensors (one entry per parameter). ``states`` arguments are consumed:
    an implementation may write the result into them; every other argument is only read."""

    def blend(self, states: list[Any], a: Any, xs: list[Any], b: Any) -> list[Any]:
        """``a * state + b * x``, in each state's dtype."""

    def blend_squares(self, states: list[Any], a: Any, xs: list[Any], b: Any) -> list[Any]:
        """``a * state + b * |x|^2``, in each state's dtype (``|x|^2`` real also for a complex ``x``)."""

    def added(self, xs: list[Any], ys: list[Any], b: Any) -> list[Any]:
        """``x + b * y`` as new tensors, in each ``x``'s dtype."""

    def over_root(self, xs: list[Any], states: list[Any], eps: Any, scales: list[Any] | None = None) -> list[Any]:
        """``x / (sqrt(state / scale) + eps)`` as new tensors (``scales``: one per tensor, in the state's dtype)."""

    def adam_quotients(
        self, grads: list[Any], mus: list[Any], nus: list[Any], counts: list[Any], b1: Any, b2: Any, eps: Any
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """Adam's moments ``mu = b1 mu + (1 - b1) g``, ``nu = b2 nu + (1 - b2) |g|^2`` (consumed) and
        ``mu / (sqrt(nu / (1 - b2^count)) + eps)`` as new tensors: ``(quotients, mus, nus)`` (``adam_quotients``)."""

    def divided(self, xs: list[Any], scales: list[Any]) -> list[Any]:
        """``x / scale`` per tensor; ``xs`` must be new tensors (an implementation may divide them in place)."""

    def counted(self, counts: list[Any]) -> list[Any]:
        """``count + 1`` per tensor (0-d counters, consumed)."""

    def bias_corrections(self, counts: list[Any], beta: Any, like: list[Any]) -> list[Any]:
        """``1 - beta ** count`` per tensor, in the dtype of the matching tensor of ``like``."""

    def finite(self, xs: list[Any]) -> list[Any]:
        """``xs`` with non-finite entries replaced by 0 (the gradient guard of Layca layers); never writes ``xs``."""

    def descended(self, params: list[Any], steps: list[Any], rate: Any) -> list[Any]:
        """``param - rate * step`` in each parameter's dtype (the rule of parameters that are not layers)."""

    def orthogonalized(self, xs: list[Any], out_axis: int) -> list[Any]:
        """Each tensor's Newton-Schulz orthogonalisation (``layca_core.orthogonal.newton_schulz``), as new tensors."""


def adam_quotients(
    ops: Primitives, grads: list[Any], mus: list[Any], nus: list[Any], counts: list[Any], b1: Any, b2: Any, eps: Any
) -> tuple[list[Any], list[Any], list[Any]]:
    """``Primitives.adam_quotients`` written with the other primitives of ``ops`` (one pass of each)."""
    mus = ops.blend(mus, b1, grads, 1 - b1)
    nus = ops.blend_squares(nus, b2, grads, 1 - b2)
    return ops.over_root(mus, nus, eps, ops.bias_corrections(counts, b2, nus)), mus, nus


def _as(x: Any, like: Any) -> Any:
    """``x`` in ``like``'s dtype: an array hyperparameter (e.g. injected by Optax) never widens a state."""
    return x if x.dtype == like.dtype else array_namespace(x).astype(x, like.dtype)


def _scaled_square(b: Any, x: Any) -> Any:
    """``b |x|^2`` elementwise as ``(b x) x`` (torch's ``addcmul`` order, so both overflow alike), real also for
    a complex ``x`` (as ``optax.adam`` does)."""
    xp = array_namespace(x)
    if xp.isdtype(x.dtype, "complex floating"):
        return _times(b, xp.real(x) ** 2 + xp.imag(x) ** 2)
    return _times(b, x) * x


def _times(a: Any, x: Any) -> Any:
    """``a * x``, and ``x`` itself for the number 1 (a traced ``a`` is never compared)."""
    return x if isinstance(a, (int, float)) and a == 1 else a * x


def _finite(x: Any, xp: Any) -> Any:
    return xp.where(xp.isfinite(x), x, xp.zeros_like(x))


class ArrayPrimitives:
    """The primitives as array-API expressions, one tensor at a time, returning new arrays."""

    def blend(self, states: list[Any], a: Any, xs: list[Any], b: Any) -> list[Any]:
        return [_as(_times(a, s) + _times(b, x), s) for s, x in zip(states, xs)]

    def blend_squares(self, states: list[Any], a: Any, xs: list[Any], b: Any) -> list[Any]:
        return [_as(_times(a, s) + _scaled_square(b, x), s) for s, x in zip(states, xs)]

    def added(self, xs: list[Any], ys: list[Any], b: Any) -> list[Any]:
        return [_as(x + b * y, x) for x, y in zip(xs, ys)]

    def over_root(self, xs: list[Any], states: list[Any], eps: Any, scales: list[Any] | None = None) -> list[Any]:
        roots = [array_namespace(s).sqrt(s if scales is None else s / scales[i]) for i, s in enumerate(states)]
        return [_as(x / (r + eps), x) for x, r in zip(xs, roots)]

    def adam_quotients(
        self, grads: list[Any], mus: list[Any], nus: list[Any], counts: list[Any], b1: Any, b2: Any, eps: Any
    ) -> tuple[list[Any], list[Any], list[Any]]:
        return adam_quotients(self, grads, mus, nus, counts, b1, b2, eps)

    def divided(self, xs: list[Any], scales: list[Any]) -> list[Any]:
        return [x / scale for x, scale in zip(xs, scales)]

    def counted(self, counts: list[Any]) -> list[Any]:
        return [count + 1 for count in counts]

    def bias_corrections(self, counts: list[Any], beta: Any, like: list[Any]) -> list[Any]:
        return [array_namespace(t).astype(1 - beta**count, t.dtype) for count, t in zip(counts, like)]

    def finite(self, xs: list[Any]) -> list[Any]:
        return [_finite(x, array_namespace(x)) for x in xs]

    def descended(self, params: list[Any], steps: list[Any], rate: Any) -> list[Any]:
        return [_as(p - rate * s, p) for p, s in zip(params, steps)]

    def orthogonalized(self, xs: list[Any], out_axis: int) -> list[Any]:
        return [newton_schulz(x, out_axis=out_axis) for x in xs]


ARRAY = ArrayPrimitives()

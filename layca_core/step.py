r"""The Layca step (Algorithm 1 of arXiv 1806.01603) and its LARS variant, on any array API.

For one layer with weights :math:`w`, a base step :math:`s` (pointing uphill, like a
gradient), a rotation rate :math:`\rho` and the stored initial norm :math:`r_0`:

.. math::

    s_\perp = s - \frac{\langle s, w\rangle}{\langle w, w\rangle} w, \qquad
    w' = w - \rho\, \|w\| \frac{s_\perp}{\|s_\perp\|}, \qquad
    w_{new} = r_0 \frac{w'}{\|w'\|}

so the angle between :math:`w` and :math:`w_{new}` is :math:`\arctan\rho`. Since
:math:`s_\perp \perp w`, :math:`\|w'\| = \|w\|\sqrt{1+\rho^2}` is known without another pass.

Guards: non-finite entries of :math:`s` count as 0; a step with no component orthogonal to
:math:`w` beyond round-off (zero, or parallel to :math:`w`: ``parallel_tolerance``) leaves the
layer as it is; a
zero-norm layer is left as it is (adapters refuse one eagerly, see ``check_nonzero_norms``).
Norms and dot products accumulate in at least float32.

Example:
    >>> import numpy as np
    >>> w, s = np.array([3.0, 0.0]), np.array([0.0, -1.0])
    >>> new = layca_step(w, s, rate=1.0, init_norm=3.0)
    >>> np.round(new, 6).tolist()  # a 45-degree turn, norm 3 kept
    [2.12132, 2.12132]
"""

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from layca_core import defaults
from layca_core._namespace import accumulation_dtype, array_namespace, parallel_tolerance
from layca_core.validation import check_rate, check_same_length


def _prepare(weight: Any, step: Any, rate: Any, xp: ModuleType) -> tuple[Any, Any, Any, Any]:
    """Cast to the accumulation dtype and zero the step's non-finite entries."""
    check_rate(rate)
    acc = accumulation_dtype(weight.dtype, xp)
    w = xp.astype(weight, acc)
    s = xp.astype(step, acc)
    return w, xp.where(xp.isfinite(s), s, xp.zeros_like(s)), _scalar(rate, acc, xp), acc


def _scalar(x: Any, acc: Any, xp: ModuleType) -> Any:
    """A Python number stays one (no host-to-device copy); a 0-d array is cast to ``acc``."""
    return x if isinstance(x, (int, float)) else xp.astype(x, acc)


def _sqrt(x: Any, xp: ModuleType) -> Any:
    return x**0.5 if isinstance(x, (int, float)) else xp.sqrt(x)


def layca_step(weight: Any, step: Any, rate: Any, init_norm: Any, *, xp: ModuleType | None = None) -> Any:
    """Turn one layer by ``arctan(rate)`` against ``step``, back onto the sphere of radius ``init_norm``.

    Args:
        weight: the layer's weights, any shape, a floating dtype.
        step: the base optimizer's step for the layer, same shape (uphill, like a gradient).
        rate: the rotation rate, a non-negative number or 0-d array (the tangent of the angle).
        init_norm: the layer's Frobenius norm at initialization (``initial_norm``).
        xp: the array namespace; inferred from ``weight`` when omitted.

    Returns:
        The new weights, same shape and dtype as ``weight``.
    """
    xp = array_namespace(weight, step) if xp is None else xp
    w, s, rate, acc = _prepare(weight, step, rate, xp)
    ww = xp.sum(w * w)
    safe_ww = xp.where(ww > 0, ww, xp.ones_like(ww))
    s_perp = s - (xp.sum(s * w) / safe_ww) * w
    pp = xp.sum(s_perp * s_perp)
    moves = (pp > parallel_tolerance(weight.dtype, xp) ** 2 * xp.sum(s * s)) & (ww > 0)
    safe_pp = xp.where(moves, pp, xp.ones_like(pp))
    w_prime = w - (rate * xp.sqrt(safe_ww / safe_pp)) * s_perp
    new = w_prime * (_scalar(init_norm, acc, xp) / (xp.sqrt(safe_ww) * _sqrt(1 + rate * rate, xp)))
    return xp.astype(xp.where(moves, new, w), weight.dtype)


def lars_step(weight: Any, step: Any, rate: Any, init_norm: Any, *, xp: ModuleType | None = None) -> Any:
    """The LARS variant (Layca's operations 2 and 3 only), with the paper's cap on norm growth.

    ``w' = w - rate * ||w|| s / ||s||``, rescaled to ``||w|| + 1e-4 * init_norm`` when it grew
    more than that. No projection and no renormalization to ``init_norm``.
    """
    xp = array_namespace(weight, step) if xp is None else xp
    w, s, rate, acc = _prepare(weight, step, rate, xp)
    ww = xp.sum(w * w)
    ss = xp.sum(s * s)
    moves = (ss > 0) & (ww > 0)
    norm = xp.sqrt(ww)
    w_prime = w - (rate * norm / xp.sqrt(xp.where(moves, ss, xp.ones_like(ss)))) * s
    new_norm = xp.sqrt(xp.sum(w_prime * w_prime))
    cap = norm + defaults.LARS_MAX_NORM_GROWTH * _scalar(init_norm, acc, xp)
    shrink = xp.where(new_norm > cap, cap / xp.where(moves, new_norm, xp.ones_like(new_norm)), xp.ones_like(cap))
    return xp.astype(xp.where(moves, w_prime * shrink, w), weight.dtype)


VARIANTS = {"layca": layca_step, "lars": lars_step}


def step_function(variant: str) -> Any:
    """``layca_step`` or ``lars_step``, by name."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    return VARIANTS[variant]


def initial_norm(weight: Any, *, xp: ModuleType | None = None) -> Any:
    """The Frobenius norm of a layer, accumulated in at least float32 (store it at init)."""
    xp = array_namespace(weight) if xp is None else xp
    w = xp.astype(weight, accumulation_dtype(weight.dtype, xp))
    return xp.sqrt(xp.sum(w * w))


def layca_steps(
    weights: Sequence[Any],
    steps: Sequence[Any],
    rates: Any,
    init_norms: Sequence[Any],
    *,
    variant: str = "layca",
    xp: ModuleType | None = None,
) -> list[Any]:
    """``layca_step`` (or ``lars_step``) over a list of layers; ``rates`` is one rate or one per layer."""
    step_fn = step_function(variant)
    rates = list(rates) if isinstance(rates, (list, tuple)) else [rates] * len(weights)
    check_same_length(weights=weights, steps=steps, rates=rates, init_norms=init_norms)
    return [step_fn(w, s, r, n, xp=xp) for w, s, r, n in zip(weights, steps, rates, init_norms)]

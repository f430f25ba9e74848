r"""The Layca step (Algorithm 1 of arXiv 1806.01603), its LARS variant and the hyperball rule, on any array API.

For one layer with weights :math:`w`, a base step :math:`s` (pointing uphill, like a
gradient), a rotation rate :math:`\rho` and the stored initial norm :math:`r_0`:

.. math::

    s_\perp = s - \frac{\langle s, w\rangle}{\langle w, w\rangle} w, \qquad
    w' = w - \rho\, \|w\| \frac{s_\perp}{\|s_\perp\|}, \qquad
    w_{new} = r_0 \frac{w'}{\|w'\|}

so the angle between :math:`w` and :math:`w_{new}` is :math:`\arctan\rho`. Since
:math:`s_\perp \perp w`, :math:`\|w'\| = \|w\|\sqrt{1+\rho^2}` is known without another pass.

Guards: non-finite entries of :math:`s` count as 0; a step with no component orthogonal to
:math:`w` beyond round-off (zero, or parallel to :math:`w`) leaves the layer as it is; so does a
zero-norm layer (adapters refuse one eagerly). The step may lie anywhere in the dtype's finite
range: its scale is discarded before any sum is formed. The arithmetic lives in
``layca_core.engine``; these functions run it on a list of one or more layers.

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

from layca_core._namespace import accumulation_dtype, array_namespace
from layca_core.engine.reference import ReferenceExecutor, per_layer
from layca_core.engine.turn import turn_layers, weights_in_range
from layca_core.validation import check_rate, check_same_length


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
    return layca_steps([weight], [step], [rate], [init_norm], xp=xp)[0]


def lars_step(weight: Any, step: Any, rate: Any, init_norm: Any, *, xp: ModuleType | None = None) -> Any:
    """The LARS variant (Layca's operations 2 and 3 only), with the paper's cap on norm growth.

    ``w' = w - rate * ||w|| s / ||s||``, rescaled to ``||w|| + 1e-4 * init_norm`` when it grew
    more than that. No projection and no renormalization to ``init_norm``.
    """
    return layca_steps([weight], [step], [rate], [init_norm], variant="lars", xp=xp)[0]


def hyperball_step(weight: Any, step: Any, rate: Any, init_norm: Any, *, xp: ModuleType | None = None) -> Any:
    """The hyperball rule: ``w' = w - rate * ||w|| s / ||s||`` (no projection), back onto the sphere of radius
    ``init_norm``; it turns the layer by ``atan2(rate sin(theta), 1 - rate cos(theta))``, theta the angle between
    ``step`` and ``weight`` (docs/algorithm.md)."""
    return layca_steps([weight], [step], [rate], [init_norm], variant="hyperball", xp=xp)[0]


def layca_steps(
    weights: Sequence[Any],
    steps: Sequence[Any],
    rates: Any,
    init_norms: Sequence[Any],
    *,
    variant: str = "layca",
    xp: ModuleType | None = None,
) -> list[Any]:
    """One step of every layer in a list; ``rates`` is one rate or one per layer."""
    rates = list(rates) if isinstance(rates, (list, tuple)) else [rates] * len(weights)
    check_same_length(weights=weights, steps=steps, rates=rates, init_norms=init_norms)
    for rate in rates:
        check_rate(rate)
    xp = array_namespace(*weights, *steps) if xp is None else xp
    for w in weights:
        accumulation_dtype(w.dtype, xp)
    executor = ReferenceExecutor(xp, weights[0]).prepare(list(weights))
    return turn_layers(
        list(weights),
        list(steps),
        per_layer(rates, executor),
        per_layer(init_norms, executor),
        executor=executor,
        variant=variant,
    )


def initial_norm(weight: Any, *, xp: ModuleType | None = None) -> Any:
    """The Frobenius norm of a layer (store it at init), in the layer's accumulation dtype.

    Summed in float64 where the namespace has it, so any float32 or 16-bit layer's norm is exact. Weights far from 1
    are summed scaled (``layer_norms``): a float32 layer of 1e-30 entries without float64, or a float64 one of 1e-200
    entries, has its norm, not a zero its squares underflowed to.
    """
    xp = array_namespace(weight) if xp is None else xp
    norm = layer_norms([weight], executor=ReferenceExecutor(xp, weight).prepare([weight]))[0]
    return xp.astype(norm, accumulation_dtype(weight.dtype, xp))


def layer_norms(weights: list[Any], *, executor: Any) -> Any:
    """The Frobenius norms of layers as one vector in the executor's accumulation dtype, by its primitives
    (``layca_core.engine.Executor``, prepared for ``weights``): an adapter's, for the local shards of sharded layers
    (the sums all-reduced: whole layers' norms).

    Weights whose largest entry lies beyond ``2^(+-e/4)`` (``e`` the largest binary exponent of the dtype their squares
    accumulate in) are summed times a power of two ``tau`` that brings it near 1, and the norm divided by ``tau``
    (exact), as the engine's steps do.
    """
    tau, scaled = weights_in_range(executor, weights, executor.vector([1.0] * len(weights)))
    return executor.xp.sqrt(executor.squares(list(weights) if scaled is None else scaled)) / tau

"""One optimizer step over all parameters: the form every adapter calls once per step.

Parameters come in a fixed order with a ``LayerPlan``: a Layca layer has a rate multiplier
(Equation 1), any other parameter has ``None`` and gets the plain base step
``p - other_rate * s`` (or stays frozen, the paper's setting, with ``freeze_others``).

Example:
    >>> import numpy as np
    >>> from layca_core.directions import direction
    >>> params = [np.array([[3.0, 0.0]]), np.array([0.5])]
    >>> plan = LayerPlan.from_flags([True, False], alpha=0.0)
    >>> base = direction("sgd")
    >>> states = [base.init(p) for p in params]
    >>> norms = initial_norms(params, plan)
    >>> grads = [np.array([[0.0, -1.0]]), np.array([1.0])]
    >>> new, states = optimizer_step(params, grads, states, norms, 1.0, plan, base=base, other_rate=0.1)
    >>> np.round(new[0], 4).tolist(), new[1].tolist()
    ([[2.1213, 2.1213]], [0.4])
"""

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from layca_core import defaults
from layca_core._namespace import array_namespace
from layca_core.directions import BaseDirection, direction
from layca_core.rates import alpha_multipliers
from layca_core.step import initial_norm, step_function
from layca_core.validation import check_alpha, check_rate, check_same_length


@dataclass(frozen=True)
class LayerPlan:
    """Per parameter, in order: its rate multiplier if it is a Layca layer, else ``None``."""

    multipliers: tuple[float | None, ...]

    @classmethod
    def from_flags(cls, is_layer: Sequence[bool], alpha: float) -> "LayerPlan":
        """Spread Equation 1's multipliers over the flagged parameters, in the order given."""
        multipliers = iter(alpha_multipliers(max(sum(is_layer), 1), alpha))
        return cls(tuple(next(multipliers) if flag else None for flag in is_layer))

    @property
    def is_layer(self) -> tuple[bool, ...]:
        return tuple(m is not None for m in self.multipliers)


def checked_options(
    rate: Any,
    alpha: float,
    variant: str,
    base: str | None = None,
    other_rate: Any = None,
    *,
    names: tuple[str, str] = ("rate", "other_rate"),
    **base_hyperparameters: Any,
) -> tuple[Any, BaseDirection | None]:
    """Check an adapter's options at construction; return the rate (the paper's default for
    ``base`` when ``rate`` is None) and the base direction (None when no ``base`` is given)."""
    rate = defaults.default_rate(base or defaults.BASE) if rate is None else rate
    check_rate(rate, names[0])
    check_rate(0.0 if other_rate is None else other_rate, names[1])
    check_alpha(alpha)
    step_function(variant)
    return rate, None if base is None else direction(base, **base_hyperparameters)


def initial_norms(params: Sequence[Any], plan: LayerPlan) -> list[Any]:
    """The norm to store for each Layca layer (``None`` for the other parameters)."""
    check_same_length(params=params, plan=plan.multipliers)
    return [initial_norm(p) if layer else None for p, layer in zip(params, plan.is_layer)]


def optimizer_step(
    params: Sequence[Any],
    grads: Sequence[Any],
    base_states: Sequence[Any],
    init_norms: Sequence[Any],
    rate: Any,
    plan: LayerPlan,
    *,
    base: BaseDirection,
    other_rate: Any,
    freeze_others: bool = False,
    variant: str = "layca",
    xp: ModuleType | None = None,
) -> tuple[list[Any], list[Any]]:
    """Return ``(new_params, new_base_states)`` after one step.

    A layer's gradient has its non-finite entries zeroed before the base direction sees it,
    so one bad batch cannot poison the base state (and silently freeze the layer). The
    base state is updated with the raw, unprojected gradient.
    """
    check_same_length(params=params, grads=grads, base_states=base_states, init_norms=init_norms, plan=plan.multipliers)
    check_rate(rate)
    check_rate(other_rate, "other_rate")
    step_fn = step_function(variant)
    new_params, new_states = [], []
    for p, g, state, norm, multiplier in zip(params, grads, base_states, init_norms, plan.multipliers):
        if multiplier is None and freeze_others:
            new_params.append(p)
            new_states.append(state)
            continue
        if multiplier is not None:
            xp_ = array_namespace(g) if xp is None else xp
            g = xp_.where(xp_.isfinite(g), g, xp_.zeros_like(g))
        s, state = base.update(g, state)
        new_params.append(p - other_rate * s if multiplier is None else step_fn(p, s, rate * multiplier, norm, xp=xp))
        new_states.append(state)
    return new_params, new_states

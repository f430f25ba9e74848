"""Base directions: the step ``s`` a base optimizer proposes, as pure functions.

Each direction is a ``BaseDirection(init, update)``: ``init(param)`` builds its state and
``update(grad, state)`` returns ``(step, new_state)``. The step points uphill (like the
gradient) and carries no learning rate: Layca keeps only its direction. States are
NamedTuples of arrays in the parameter's dtype, so they trace, jit and serialize.

Example:
    >>> import numpy as np
    >>> adam = direction("adam")
    >>> g = np.array([0.5, -2.0])
    >>> step, state = adam.update(g, adam.init(g))
    >>> np.round(step, 4).tolist()  # first Adam step: the sign of g
    [1.0, -1.0]
"""

import inspect
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

from layca_core import defaults
from layca_core._namespace import accumulation_dtype, array_namespace, zero_scalar


class BaseDirection(NamedTuple):
    name: str
    init: Callable[[Any], Any]
    update: Callable[[Any, Any], tuple[Any, Any]]


class EmptyState(NamedTuple):
    pass


class MomentumState(NamedTuple):
    momentum: Any


class AdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class AccumulatorState(NamedTuple):
    accumulator: Any


def _xp(x: Any) -> ModuleType:
    return array_namespace(x)


def sgd() -> BaseDirection:
    """``s = g``."""
    return BaseDirection("sgd", lambda p: EmptyState(), lambda g, state: (g, state))


def _zeros_state(p: Any) -> MomentumState:
    return MomentumState(_xp(p).zeros_like(p))


def momentum(momentum: float = defaults.MOMENTUM) -> BaseDirection:
    """Heavy ball: ``m = mu m + g; s = m``."""

    def update(g: Any, state: MomentumState) -> tuple[Any, MomentumState]:
        m = momentum * state.momentum + g
        return m, MomentumState(m)

    return BaseDirection("momentum", _zeros_state, update)


def nesterov(momentum: float = defaults.MOMENTUM) -> BaseDirection:
    """Nesterov momentum in the torch.optim.SGD form: ``m = mu m + g; s = g + mu m``."""

    def update(g: Any, state: MomentumState) -> tuple[Any, MomentumState]:
        m = momentum * state.momentum + g
        return g + momentum * m, MomentumState(m)

    return BaseDirection("nesterov", _zeros_state, update)


def amom(beta: float = defaults.AMOM_BETA) -> BaseDirection:
    """SGD_AMom, Adam's first moment alone: ``m = beta m + (1 - beta) g; s = m``."""

    def update(g: Any, state: MomentumState) -> tuple[Any, MomentumState]:
        m = beta * state.momentum + (1 - beta) * g
        return m, MomentumState(m)

    return BaseDirection("amom", _zeros_state, update)


def adam(b1: float = defaults.ADAM_BETA1, b2: float = defaults.ADAM_BETA2, eps: float = defaults.EPS) -> BaseDirection:
    """Adam with bias correction: ``s = m_hat / (sqrt(v_hat) + eps)``."""

    def init(p: Any) -> AdamState:
        xp = _xp(p)
        count = zero_scalar(p, accumulation_dtype(p.dtype, xp), xp)
        return AdamState(count, xp.zeros_like(p), xp.zeros_like(p))

    def update(g: Any, state: AdamState) -> tuple[Any, AdamState]:
        xp = _xp(g)
        count = state.count + 1
        mu = b1 * state.mu + (1 - b1) * g
        nu = b2 * state.nu + (1 - b2) * (g * g)
        mu_hat = mu / xp.astype(1 - b1**count, g.dtype)
        nu_hat = nu / xp.astype(1 - b2**count, g.dtype)
        return mu_hat / (xp.sqrt(nu_hat) + eps), AdamState(count, mu, nu)

    return BaseDirection("adam", init, update)


def rmsprop(rho: float = defaults.RMSPROP_RHO, eps: float = defaults.EPS) -> BaseDirection:
    """``a = rho a + (1 - rho) g^2; s = g / (sqrt(a) + eps)``."""

    def update(g: Any, state: AccumulatorState) -> tuple[Any, AccumulatorState]:
        a = rho * state.accumulator + (1 - rho) * (g * g)
        return g / (_xp(g).sqrt(a) + eps), AccumulatorState(a)

    return BaseDirection("rmsprop", lambda p: AccumulatorState(_xp(p).zeros_like(p)), update)


def adagrad(eps: float = defaults.EPS, initial_accumulator: float = 0.0) -> BaseDirection:
    """``a = a + g^2; s = g / (sqrt(a) + eps)``."""

    def update(g: Any, state: AccumulatorState) -> tuple[Any, AccumulatorState]:
        a = state.accumulator + g * g
        return g / (_xp(g).sqrt(a) + eps), AccumulatorState(a)

    def init(p: Any) -> AccumulatorState:
        return AccumulatorState(_xp(p).zeros_like(p) + initial_accumulator)

    return BaseDirection("adagrad", init, update)


DIRECTIONS: dict[str, Callable[..., BaseDirection]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "amom": amom,
    "adam": adam,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
}


_RANGES = {
    "momentum": ("0 <= momentum < 1", lambda v: 0 <= v < 1),
    "beta": ("0 <= beta < 1", lambda v: 0 <= v < 1),
    "b1": ("0 <= b1 < 1", lambda v: 0 <= v < 1),
    "b2": ("0 <= b2 < 1", lambda v: 0 <= v < 1),
    "rho": ("0 <= rho < 1", lambda v: 0 <= v < 1),
    "eps": ("eps > 0", lambda v: v > 0),
    "initial_accumulator": ("initial_accumulator >= 0", lambda v: v >= 0),
}


def direction(name: str, **hyperparameters: Any) -> BaseDirection:
    """The base direction called ``name`` with its hyperparameters, checked (Python numbers only:
    traced values, e.g. under ``optax.inject_hyperparams``, are taken as they are)."""
    if name not in DIRECTIONS:
        raise ValueError(f"Unknown base {name!r}; choose one of {', '.join(DIRECTIONS)}.")
    factory = DIRECTIONS[name]
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise TypeError(f"Base {name!r} takes {', '.join(accepted) or 'no hyperparameters'}; got {', '.join(unknown)}.")
    for key, value in hyperparameters.items():
        rule, holds = _RANGES[key]
        if isinstance(value, (int, float)) and not (math.isfinite(value) and holds(value)):
            raise ValueError(f"Base {name!r} needs {rule}; got {key}={value!r}.")
    return factory(**hyperparameters)

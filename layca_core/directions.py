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
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, NamedTuple

from layca_core import defaults
from layca_core._namespace import accumulation_dtype, array_namespace, zero_scalar
from layca_core.validation import concrete_value


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


def _as(x: Any, like: Any) -> Any:
    """``x`` in ``like``'s dtype: an array hyperparameter (e.g. injected by Optax) never widens a state."""
    return x if x.dtype == like.dtype else _xp(x).astype(x, like.dtype)


def _is_complex(x: Any) -> bool:
    return bool(_xp(x).isdtype(x.dtype, "complex floating"))


def _real_zeros(p: Any) -> Any:
    """Zeros shaped (and, for JAX, sharded) like ``p``, real also for a complex ``p``."""
    xp = _xp(p)
    return xp.real(xp.zeros_like(p)) if _is_complex(p) else xp.zeros_like(p)


def _square(g: Any) -> Any:
    """``|g|^2`` elementwise, real also for a complex ``g`` (as ``optax.adam`` does)."""
    xp = _xp(g)
    return xp.real(g) ** 2 + xp.imag(g) ** 2 if _is_complex(g) else g * g


def sgd() -> BaseDirection:
    """``s = g``."""
    return BaseDirection("sgd", lambda p: EmptyState(), lambda g, state: (g, state))


def _zeros_state(p: Any) -> MomentumState:
    return MomentumState(_xp(p).zeros_like(p))


def momentum(momentum: float = defaults.MOMENTUM) -> BaseDirection:
    """Heavy ball: ``m = mu m + g; s = m``."""

    def update(g: Any, state: MomentumState) -> tuple[Any, MomentumState]:
        m = _as(momentum * state.momentum + g, state.momentum)
        return m, MomentumState(m)

    return BaseDirection("momentum", _zeros_state, update)


def nesterov(momentum: float = defaults.MOMENTUM) -> BaseDirection:
    """Nesterov momentum in the torch.optim.SGD form: ``m = mu m + g; s = g + mu m``."""

    def update(g: Any, state: MomentumState) -> tuple[Any, MomentumState]:
        m = _as(momentum * state.momentum + g, state.momentum)
        return _as(g + momentum * m, g), MomentumState(m)

    return BaseDirection("nesterov", _zeros_state, update)


def amom(beta: float = defaults.AMOM_BETA) -> BaseDirection:
    """SGD_AMom, Adam's first moment alone: ``m = beta m + (1 - beta) g; s = m``."""

    def update(g: Any, state: MomentumState) -> tuple[Any, MomentumState]:
        m = _as(beta * state.momentum + (1 - beta) * g, state.momentum)
        return m, MomentumState(m)

    return BaseDirection("amom", _zeros_state, update)


def adam(b1: float = defaults.ADAM_BETA1, b2: float = defaults.ADAM_BETA2, eps: float = defaults.EPS) -> BaseDirection:
    """Adam with bias correction: ``s = m_hat / (sqrt(v_hat) + eps)``; ``v`` accumulates ``|g|^2``."""

    def init(p: Any) -> AdamState:
        xp = _xp(p)
        nu = _real_zeros(p)
        count = zero_scalar(p, accumulation_dtype(nu.dtype, xp), xp)
        return AdamState(count, xp.zeros_like(p), nu)

    def update(g: Any, state: AdamState) -> tuple[Any, AdamState]:
        xp = _xp(g)
        count = state.count + 1
        mu = _as(b1 * state.mu + (1 - b1) * g, state.mu)
        nu = _as(b2 * state.nu + (1 - b2) * _square(g), state.nu)
        mu_hat = mu / xp.astype(1 - b1**count, mu.dtype)
        nu_hat = nu / xp.astype(1 - b2**count, nu.dtype)
        return _as(mu_hat / (xp.sqrt(nu_hat) + eps), g), AdamState(count, mu, nu)

    return BaseDirection("adam", init, update)


def rmsprop(rho: float = defaults.RMSPROP_RHO, eps: float = defaults.EPS) -> BaseDirection:
    """``a = rho a + (1 - rho) |g|^2; s = g / (sqrt(a) + eps)``."""

    def update(g: Any, state: AccumulatorState) -> tuple[Any, AccumulatorState]:
        a = _as(rho * state.accumulator + (1 - rho) * _square(g), state.accumulator)
        return _as(g / (_xp(g).sqrt(a) + eps), g), AccumulatorState(a)

    return BaseDirection("rmsprop", lambda p: AccumulatorState(_real_zeros(p)), update)


def adagrad(eps: float = defaults.EPS, initial_accumulator: float = 0.0) -> BaseDirection:
    """``a = a + |g|^2; s = g / (sqrt(a) + eps)``."""

    def update(g: Any, state: AccumulatorState) -> tuple[Any, AccumulatorState]:
        a = _as(state.accumulator + _square(g), state.accumulator)
        return _as(g / (_xp(g).sqrt(a) + eps), g), AccumulatorState(a)

    def init(p: Any) -> AccumulatorState:
        zeros = _real_zeros(p)
        start = (
            initial_accumulator if isinstance(initial_accumulator, (int, float)) else _as(initial_accumulator, zeros)
        )
        return AccumulatorState(zeros + start)

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
    "momentum": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "beta": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "b1": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "b2": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "rho": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "eps": ("{} > 0", lambda v: v > 0),
    "initial_accumulator": ("{} >= 0", lambda v: v >= 0),
}


def base_defaults(name: str) -> dict[str, Any]:
    """The hyperparameters of the base direction called ``name``, with their defaults."""
    if name not in DIRECTIONS:
        raise ValueError(f"Unknown base {name!r}; choose one of {', '.join(DIRECTIONS)}.")
    return {key: p.default for key, p in inspect.signature(DIRECTIONS[name]).parameters.items()}


def direction(name: str, *, spelling: Mapping[str, str] | None = None, **hyperparameters: Any) -> BaseDirection:
    """The base direction called ``name`` with its hyperparameters, checked: numbers and concrete
    0-d arrays (traced values, e.g. under ``optax.inject_hyperparams`` in ``jax.jit``, are taken as
    they are). ``spelling`` maps core names to an adapter's own words, for the error messages."""
    word = {**{key: key for key in _RANGES}, **(spelling or {})}
    accepted = base_defaults(name)
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        takes = ", ".join(word[key] for key in accepted) or "no hyperparameters"
        raise TypeError(f"Base {name!r} takes {takes}; got {', '.join(word.get(key, key) for key in unknown)}.")
    for key, value in hyperparameters.items():
        rule, holds = _RANGES[key]
        concrete = concrete_value(value)
        if (concrete is None and not hasattr(value, "shape")) or not (
            concrete is None or (math.isfinite(concrete) and holds(concrete))
        ):
            raise ValueError(f"Base {name!r} needs {rule.format(word[key])}; got {word[key]}={value!r}.")
    return DIRECTIONS[name](**hyperparameters)

"""Base directions: the step ``s`` a base optimizer proposes, as pure functions.

Each direction is a ``BaseDirection``: ``init(param)`` builds its state and
``update(grad, state)`` returns ``(step, new_state)``; ``steps`` is the same direction over lists
of tensors and a set of batched primitives (``layca_core.primitives``), the one place each base is
written. The step points uphill (like the gradient) and carries no learning rate: Layca keeps only
its direction. States are NamedTuples of arrays in the parameter's dtype, so they trace, jit and
serialize.

``layca_core.base_lookup`` finds them by name (``direction("adam", b1=0.9)``), checking their hyperparameters.

Example:
    >>> import numpy as np
    >>> base = adam()
    >>> g = np.array([0.5, -2.0])
    >>> step, state = base.update(g, base.init(g))
    >>> np.round(step, 4).tolist()  # first Adam step: the sign of g
    [1.0, -1.0]
"""

from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

from layca_core import defaults
from layca_core._namespace import accumulation_dtype, array_namespace, zero_scalar
from layca_core.muon import muon_init, muon_steps
from layca_core.primitives import ARRAY, Primitives


class BaseDirection(NamedTuple):
    """A base direction with its hyperparameters bound.

    ``init(param)`` builds a parameter's state; ``update(grad, state)`` returns ``(step, new_state)``
    for one tensor; ``steps(primitives, grads, states)`` returns ``(steps, new_states)`` for lists of
    tensors over a ``layca_core.primitives.Primitives`` implementation (``update`` is ``steps`` on
    lists of one with the array-API primitives); ``scale_free_steps`` gives the steps Layca's layers may take.
    A step may be its state's tensor (momentum) or the gradient itself (sgd).
    """

    name: str
    init: Callable[[Any], Any]
    update: Callable[[Any, Any], tuple[Any, Any]]
    steps: Callable[[Primitives, list[Any], list[Any]], tuple[list[Any], list[Any]]]
    layer_steps: Callable[[Primitives, list[Any], list[Any]], tuple[list[Any], list[Any]]] | None = None
    """``steps`` up to a positive factor per tensor, in fewer passes (None: ``steps``). Layca discards a layer's
    step scale, so its layers may take these; the states are the same."""


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


def _real_zeros(p: Any) -> Any:
    """Zeros shaped (and, for JAX, sharded) like ``p``, real also for a complex ``p``."""
    xp = _xp(p)
    return xp.real(xp.zeros_like(p)) if xp.isdtype(p.dtype, "complex floating") else xp.zeros_like(p)


def _zeros_state(p: Any) -> MomentumState:
    return MomentumState(_xp(p).zeros_like(p))


Steps = Callable[[Primitives, list[Any], list[Any]], tuple[list[Any], list[Any]]]


def _direction(name: str, init: Callable[[Any], Any], steps: Steps, layer_steps: Steps | None = None) -> BaseDirection:
    """A ``BaseDirection`` whose per-tensor ``update`` is ``steps`` on lists of one, with the array-API primitives."""

    def update(g: Any, state: Any) -> tuple[Any, Any]:
        (step,), (new_state,) = steps(ARRAY, [g], [state])
        return step, new_state

    return BaseDirection(name, init, update, steps, layer_steps)


def scale_free_steps(base: BaseDirection) -> Steps:
    """``base``'s steps for Layca's layers: ``layer_steps`` where it has them (each tensor's step up to a positive
    factor, which the turn discards), else ``steps``."""
    return base.layer_steps or base.steps


def _momenta(states: list[Any]) -> list[Any]:
    return [s.momentum for s in states]


def sgd() -> BaseDirection:
    """``s = g``."""
    return _direction("sgd", lambda p: EmptyState(), lambda ops, grads, states: (list(grads), list(states)))


def momentum(momentum: float = defaults.MOMENTUM) -> BaseDirection:
    """Heavy ball: ``m = mu m + g; s = m``."""

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        m = ops.blend(_momenta(states), momentum, grads, 1)
        return m, [MomentumState(x) for x in m]

    return _direction("momentum", _zeros_state, steps)


def nesterov(momentum: float = defaults.MOMENTUM) -> BaseDirection:
    """Nesterov momentum in the torch.optim.SGD form: ``m = mu m + g; s = g + mu m``."""

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        m = ops.blend(_momenta(states), momentum, grads, 1)
        return ops.added(grads, m, momentum), [MomentumState(x) for x in m]

    return _direction("nesterov", _zeros_state, steps)


def amom(beta: float = defaults.AMOM_BETA) -> BaseDirection:
    """SGD_AMom, Adam's first moment alone: ``m = beta m + (1 - beta) g; s = m``."""

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        m = ops.blend(_momenta(states), beta, grads, 1 - beta)
        return m, [MomentumState(x) for x in m]

    return _direction("amom", _zeros_state, steps)


def adam(b1: float = defaults.ADAM_BETA1, b2: float = defaults.ADAM_BETA2, eps: float = defaults.EPS) -> BaseDirection:
    """Adam with bias correction: ``s = m_hat / (sqrt(v_hat) + eps)``, computed as
    ``(m / (sqrt(v / (1 - b2^t)) + eps)) / (1 - b1^t)``; ``v`` accumulates ``|g|^2``."""

    def init(p: Any) -> AdamState:
        xp = _xp(p)
        nu = _real_zeros(p)
        count = zero_scalar(p, accumulation_dtype(nu.dtype, xp), xp)
        return AdamState(count, xp.zeros_like(p), nu)

    def layer_steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        """``m / (sqrt(v_hat) + eps)``: the step times ``1 - b1^t``, one pass fewer."""
        counts = ops.counted([s.count for s in states])
        mus, nus = [s.mu for s in states], [s.nu for s in states]
        quotients, mus, nus = ops.adam_quotients(grads, mus, nus, counts, b1, b2, eps)
        return quotients, [AdamState(*fields) for fields in zip(counts, mus, nus)]

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        quotients, new_states = layer_steps(ops, grads, states)
        counts = [s.count for s in new_states]
        return ops.divided(quotients, ops.bias_corrections(counts, b1, quotients)), new_states

    return _direction("adam", init, steps, layer_steps)


def _accumulators(states: list[Any]) -> list[Any]:
    return [s.accumulator for s in states]


def rmsprop(rho: float = defaults.RMSPROP_RHO, eps: float = defaults.EPS) -> BaseDirection:
    """``a = rho a + (1 - rho) |g|^2; s = g / (sqrt(a) + eps)``."""

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        a = ops.blend_squares(_accumulators(states), rho, grads, 1 - rho)
        return ops.over_root(grads, a, eps), [AccumulatorState(x) for x in a]

    return _direction("rmsprop", lambda p: AccumulatorState(_real_zeros(p)), steps)


def adagrad(eps: float = defaults.EPS, initial_accumulator: float = 0.0) -> BaseDirection:
    """``a = a + |g|^2; s = g / (sqrt(a) + eps)``."""

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        a = ops.blend_squares(_accumulators(states), 1, grads, 1)
        return ops.over_root(grads, a, eps), [AccumulatorState(x) for x in a]

    def init(p: Any) -> AccumulatorState:
        zeros = _real_zeros(p)
        start = initial_accumulator
        if not isinstance(start, (int, float)) and start.dtype != zeros.dtype:
            start = _xp(start).astype(start, zeros.dtype)
        return AccumulatorState(zeros + start)

    return _direction("adagrad", init, steps)


def muon(
    momentum: float = defaults.MUON_MOMENTUM,
    nesterov: bool = defaults.MUON_NESTEROV,
    b1: float = defaults.ADAM_BETA1,
    b2: float = defaults.ADAM_BETA2,
    eps: float = defaults.EPS,
    out_axis: int = -1,
) -> BaseDirection:
    """Muon (``layca_core.muon``): ``m = mu m + (1 - mu) g``, then the Newton-Schulz orthogonalisation of
    ``(1 - mu) g + mu m`` (``nesterov``) or ``m``, for tensors of two or more dimensions, whose fan-out axis is
    ``out_axis`` (torch's kernels: 0); Adam's step (``b1``, ``b2``, ``eps``) for the others."""
    adam_steps = adam(b1, b2, eps).steps
    steps = muon_steps(momentum, nesterov, lambda ops, g, s: adam_steps(ops, g, [AdamState(*x) for x in s]), out_axis)
    return _direction("muon", muon_init, steps)


def with_weight_decay(ops: Primitives, grads: list[Any], params: list[Any], weight_decay: Any) -> list[Any]:
    """``g + weight_decay * p``: L2 weight decay added to the gradients before the base direction, as torch.optim's
    SGD, Adam, RMSprop and Adagrad do (the decay then enters momentum and Adam's moments); the gradients
    themselves for a number 0. On a Layca layer the tangent projection removes the part of the base step along
    the weights (docs/algorithm.md, "Weight decay")."""
    if isinstance(weight_decay, (int, float)) and weight_decay == 0:
        return grads
    return ops.added(grads, params, weight_decay)

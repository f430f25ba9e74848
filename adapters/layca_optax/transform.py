"""Layca as Optax ``GradientTransformation``s: ``scale_by_layca`` (after any direction) and ``layca``."""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import layca_core
from layca_core import defaults
from layca_optax.selection import MaskOrFn, Selection, flat_multipliers, flat_names, restack, unstack

Rate = float | jax.Array | Callable[[jax.Array], jax.Array]
RATE_NAMES = ("learning_rate", "other_learning_rate")


class ScaleByLaycaState(NamedTuple):
    count: jax.Array
    init_norms: tuple[jax.Array, ...]  # one per unstacked layer, in flat-leaf order


class LaycaState(NamedTuple):
    count: jax.Array
    init_norms: tuple[jax.Array, ...]
    base_states: tuple[Any, ...]  # one core base state per flat leaf


def _rate(rate: Rate, count: jax.Array) -> Any:
    return rate(count) if callable(rate) else rate


def _initial_norms(params: Any, selection: Selection) -> tuple[jax.Array, ...]:
    """Norms of every layer, refusing zero-norm layers by name when the values are concrete."""
    pieces = unstack(jax.tree.leaves(params), selection)
    layers = [(n, p) for n, p, m in zip(flat_names(selection), pieces, flat_multipliers(selection)) if m is not None]
    norms = tuple(layca_core.initial_norm(p, xp=jnp) for _, p in layers)
    if not any(isinstance(n, jax.core.Tracer) for n in norms):
        layca_core.check_nonzero_norms([float(n) for n in norms], [name for name, _ in layers])
    return norms


def _check_params(params: Any) -> None:
    if params is None:
        raise ValueError("Layca needs the current weights to turn them: call update(updates, state, params).")


def _with_placeholders(norms: tuple[jax.Array, ...], multipliers: tuple[float | None, ...]) -> list[Any]:
    """Spread the stored layer norms over all pieces (None where a piece is not a layer)."""
    it = iter(norms)
    return [None if m is None else next(it) for m in multipliers]


def scale_by_layca(
    learning_rate: Rate = defaults.RATE,
    *,
    alpha: float = defaults.ALPHA,
    layers: MaskOrFn = None,
    stacked: MaskOrFn = None,
    order: Sequence[str] | None = None,
    other_learning_rate: Rate | None = None,
    freeze_others: bool = False,
    variant: str = "layca",
) -> optax.GradientTransformation:
    """Turn the incoming updates (any Optax direction, pointing uphill) into Layca updates.

    Compose after a direction: ``optax.chain(optax.scale_by_adam(), scale_by_layca(3**-5))``.
    Each layer's update is ``layca_step(w, u, rate * m_l, r0) - w``; other leaves get
    ``-other_learning_rate * u`` (default: the rate) or 0 when ``freeze_others``.

    Args:
        learning_rate: the rotation rate, a number or an Optax schedule of the step count.
        alpha: layer-wise multipliers of Equation 1 over the layers in ``order``.
        layers: mask pytree (or callable params -> mask) of layer leaves; default ndim >= 2.
        stacked: mask of leaves that stack layers along axis 0 (e.g. from ``nn.scan``).
        order: the layers' tree paths (``jax.tree_util.keystr``) in forward order; default
            tree-flatten order.
        other_learning_rate: plain learning rate of the other leaves.
        freeze_others: keep the other leaves unchanged (the paper's setting).
        variant: ``"layca"`` or ``"lars"``.
    """
    layca_core.checked_options(learning_rate, alpha, variant, None, other_learning_rate, names=RATE_NAMES)
    step_fn = layca_core.step_function(variant)
    other = learning_rate if other_learning_rate is None else other_learning_rate

    def init(params: Any) -> ScaleByLaycaState:
        selection = Selection.build(params, layers, stacked, order, alpha)
        return ScaleByLaycaState(jnp.zeros([], jnp.int32), _initial_norms(params, selection))

    def update(updates: Any, state: ScaleByLaycaState, params: Any = None) -> tuple[Any, ScaleByLaycaState]:
        _check_params(params)
        selection = Selection.build(params, layers, stacked, order, alpha)
        multipliers = flat_multipliers(selection)
        rate, other_rate = _rate(learning_rate, state.count), _rate(other, state.count)
        pieces, steps = unstack(jax.tree.leaves(params), selection), unstack(jax.tree.leaves(updates), selection)
        norms = _with_placeholders(state.init_norms, multipliers)
        new = [
            (jnp.zeros_like(s) if freeze_others else -other_rate * s)
            if m is None
            else step_fn(p, s, rate * m, n, xp=jnp) - p
            for p, s, m, n in zip(pieces, steps, multipliers, norms)
        ]
        treedef = jax.tree.structure(params)
        return jax.tree.unflatten(treedef, restack(new, selection)), state._replace(
            count=optax.safe_increment(state.count)
        )

    return optax.GradientTransformation(init, update)


def layca(
    learning_rate: Rate | None = None,
    base: str = defaults.BASE,
    *,
    alpha: float = defaults.ALPHA,
    layers: MaskOrFn = None,
    stacked: MaskOrFn = None,
    order: Sequence[str] | None = None,
    other_learning_rate: Rate | None = None,
    freeze_others: bool = False,
    variant: str = "layca",
    **base_hyperparameters: Any,
) -> optax.GradientTransformation:
    """Layca on one of the core's base directions: the same arithmetic as the torch and Keras adapters.

    ``base`` is ``sgd``, ``momentum``, ``nesterov``, ``amom``, ``adam``, ``rmsprop`` or ``adagrad``,
    with its hyperparameters as keyword arguments; the rest is as in ``scale_by_layca``.
    Works under ``optax.inject_hyperparams`` with the structural arguments static:
    ``optax.inject_hyperparams(layca, static_args=("base", "alpha"))(learning_rate=0.1)``.

    Example:
        >>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
        >>> optimizer = layca(3**-3, base="momentum", momentum=0.9)
        >>> state = optimizer.init(params)
        >>> grads = {"w": jnp.arange(6.0).reshape(3, 2), "b": jnp.ones(2)}
        >>> updates, state = optimizer.update(grads, state, params)
        >>> params = optax.apply_updates(params, updates)
    """
    nested = base_hyperparameters.pop("base_hyperparameters", {})  # how optax.inject_hyperparams passes them
    learning_rate, direction = layca_core.checked_options(
        learning_rate, alpha, variant, base, other_learning_rate, names=RATE_NAMES, **nested, **base_hyperparameters
    )
    other = learning_rate if other_learning_rate is None else other_learning_rate

    def init(params: Any) -> LaycaState:
        selection = Selection.build(params, layers, stacked, order, alpha)
        pieces = unstack(jax.tree.leaves(params), selection)
        return LaycaState(
            jnp.zeros([], jnp.int32), _initial_norms(params, selection), tuple(direction.init(p) for p in pieces)
        )

    def update(grads: Any, state: LaycaState, params: Any = None) -> tuple[Any, LaycaState]:
        _check_params(params)
        selection = Selection.build(params, layers, stacked, order, alpha)
        multipliers = flat_multipliers(selection)
        pieces, grad_pieces = unstack(jax.tree.leaves(params), selection), unstack(jax.tree.leaves(grads), selection)
        new, base_states = layca_core.optimizer_step(
            pieces,
            grad_pieces,
            state.base_states,
            _with_placeholders(state.init_norms, multipliers),
            _rate(learning_rate, state.count),
            layca_core.LayerPlan(multipliers),
            base=direction,
            other_rate=_rate(other, state.count),
            freeze_others=freeze_others,
            variant=variant,
            xp=jnp,
        )
        updates = [n - p for n, p in zip(restack(new, selection), jax.tree.leaves(params))]
        new_state = LaycaState(optax.safe_increment(state.count), state.init_norms, tuple(base_states))
        return jax.tree.unflatten(jax.tree.structure(params), updates), new_state

    return optax.GradientTransformation(init, update)

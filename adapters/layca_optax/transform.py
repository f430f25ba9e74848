"""Layca as Optax ``GradientTransformation``s: ``scale_by_layca`` (after any direction) and ``layca``."""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import layca_core
from layca_core import defaults, engine
from layca_core.validation import check_nonzero_norms
from layca_optax.selection import MaskOrFn, Selection, flat_multipliers, flat_names

Rate = float | jax.Array | Callable[[jax.Array], jax.Array]
RATE_NAMES = ("learning_rate", "other_learning_rate")


class ScaleByLaycaState(NamedTuple):
    count: jax.Array
    init_norms: tuple[jax.Array | None, ...]  # per flat leaf: a layer's norm (one per slice if stacked), else None


class LaycaState(NamedTuple):
    count: jax.Array
    init_norms: tuple[jax.Array | None, ...]
    base_states: tuple[Any, ...]  # one core base state per flat leaf


def _rate(rate: Rate, count: jax.Array) -> Any:
    return rate(count) if callable(rate) else rate


def _initial_norms(params: Any, selection: Selection) -> tuple[jax.Array | None, ...]:
    """Norms of every layer (per slice when stacked), refusing zero-norm layers by name when concrete."""
    norms = tuple(
        None if not layer else (jax.vmap(layca_core.initial_norm)(leaf) if count else layca_core.initial_norm(leaf))
        for leaf, layer, count in zip(jax.tree.leaves(params), selection.is_layer, selection.stack)
    )
    flat = [jnp.reshape(n, (-1,)) for n in norms if n is not None]
    if flat and not any(isinstance(n, jax.core.Tracer) for n in flat):
        names = [n for n, m in zip(flat_names(selection), flat_multipliers(selection)) if m is not None]
        check_nonzero_norms([float(x) for x in jnp.concatenate(flat)], names)
    return norms


def _check_params(params: Any) -> None:
    if params is None:
        raise ValueError("Layca needs the current weights to turn them: call update(updates, state, params).")


def _step(
    params: Any, grads: Any, base_states: Any, init_norms: Any, rate: Any, selection: Selection, **options: Any
) -> tuple[list[Any], list[Any]]:
    """The core's whole step on the flat leaves, as Optax updates; stacked leaves turn slice by slice in one call."""
    return engine.optimizer_step(
        jax.tree.leaves(params), jax.tree.leaves(grads), base_states, list(init_norms), rate, selection.plan,
        stacked=selection.stacked, as_updates=True, xp=jnp, **options,
    )  # fmt: skip


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

    ``docs/algorithm.md`` explains ``alpha`` (Equation 1, written out), ``base``, ``variant``,
    the other parameters' rate and ``freeze_others``.

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
    engine.checked_options(learning_rate, alpha, variant, None, other_learning_rate, names=RATE_NAMES)
    other = learning_rate if other_learning_rate is None else other_learning_rate
    identity = layca_core.direction("sgd")

    def init(params: Any) -> ScaleByLaycaState:
        selection = Selection.build(params, layers, stacked, order, alpha)
        return ScaleByLaycaState(jnp.zeros([], jnp.int32), _initial_norms(params, selection))

    def update(updates: Any, state: ScaleByLaycaState, params: Any = None) -> tuple[Any, ScaleByLaycaState]:
        _check_params(params)
        selection = Selection.build(params, layers, stacked, order, alpha)
        leaves = jax.tree.leaves(params)
        steps, _ = _step(
            params, updates, [identity.init(x) for x in leaves], state.init_norms, _rate(learning_rate, state.count),
            selection, base=identity, other_rate=_rate(other, state.count), freeze_others=freeze_others,
            variant=variant,
        )  # fmt: skip
        return jax.tree.unflatten(jax.tree.structure(params), steps), state._replace(
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
    learning_rate, direction = engine.checked_options(
        learning_rate, alpha, variant, base, other_learning_rate, names=RATE_NAMES, **nested, **base_hyperparameters
    )
    other = learning_rate if other_learning_rate is None else other_learning_rate

    def init(params: Any) -> LaycaState:
        selection = Selection.build(params, layers, stacked, order, alpha)
        return LaycaState(
            jnp.zeros([], jnp.int32),
            _initial_norms(params, selection),
            tuple(direction.init(x) for x in jax.tree.leaves(params)),
        )

    def update(grads: Any, state: LaycaState, params: Any = None) -> tuple[Any, LaycaState]:
        _check_params(params)
        selection = Selection.build(params, layers, stacked, order, alpha)
        updates, base_states = _step(
            params, grads, state.base_states, state.init_norms, _rate(learning_rate, state.count), selection,
            base=direction, other_rate=_rate(other, state.count), freeze_others=freeze_others, variant=variant,
        )  # fmt: skip
        new_state = LaycaState(optax.safe_increment(state.count), state.init_norms, tuple(base_states))
        return jax.tree.unflatten(jax.tree.structure(params), updates), new_state

    return optax.GradientTransformation(init, update)

"""Layca as Optax ``GradientTransformation``s: ``scale_by_layca`` (after any direction) and ``layca``."""

import logging
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

import layca_core
import layca_jax
from layca_core import defaults, engine
from layca_core.directions import BaseDirection
from layca_core.selection import check_include
from layca_optax import state as layout
from layca_optax.hyperparameters import SPELLING, core_hyperparameters
from layca_optax.norms import EXCLUDE, reference_norms, unread_norms
from layca_optax.selection import MaskOrFn, Selection, describe
from layca_optax.state import LaycaState, ScaleByLaycaState

logger = logging.getLogger("layca_optax")
Rate = float | jax.Array | Callable[[jax.Array], jax.Array]
Number = float | jax.Array


def _rate(rate: Rate, count: jax.Array) -> Any:
    return rate(count) if callable(rate) else rate


def _is_abstract(params: Any) -> bool:
    return any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(params))


def _check_params(params: Any) -> None:
    if params is None:
        raise ValueError("Layca needs the current weights to turn them: call update(updates, state, params).")


class _Layca:
    """The init and update shared by both transformations, for one base direction."""

    def __init__(
        self, direction: BaseDirection, rate: Rate, alpha: Number, selection: dict[str, Any], **options: Any
    ) -> None:
        self.direction, self.rate, self.alpha, self.selection, self.options = direction, rate, alpha, selection, options
        self.layout = layout.BaseLayout(direction)
        other = options.pop("other_rate")
        self.other = rate if other is None else other

    def select(self, params: Any) -> Selection:
        return Selection.build(params, alpha=self.alpha, **self.selection)

    def log_roles(self, params: Any) -> None:
        """Log every leaf's role and the reason (``describe``), at INFO on the ``layca_optax`` logger."""
        chosen = {k: self.selection[k] for k in ("layers", "include")}
        table = describe(params, freeze_others=self.options["freeze_others"], **chosen)
        logger.info("Layca's layers and other leaves:\n%s", table)

    def init(self, params: Any) -> tuple[jax.Array, jax.Array, Any]:
        """``(count, init_norms, base_state)``, the norms unread (zeros); an abstract tree (``ShapeDtypeStruct``
        leaves) gives an abstract state."""
        if _is_abstract(params):
            return jax.eval_shape(self.init, params)
        selection = self.select(params)
        states = [self.direction.init(x) for x in jax.tree.leaves(params)]
        base_state = self.layout.pack(states, params)
        return jnp.zeros([], jnp.int32), unread_norms(params, selection), base_state

    def update(self, grads: Any, count: jax.Array, init_norms: jax.Array, base_state: Any, params: Any) -> Any:
        """``(updates, new_base_state, init_norms)`` after one step, the state checked against ``params`` first
        and its unread norms read from ``params``."""
        _check_params(params)
        selection = self.select(params)
        layout.check_matches(params, init_norms, selection, self.layout.params_shaped(base_state), self.layout)
        init_norms = reference_norms(init_norms, params, selection)
        leaves = jax.tree.leaves(params)
        with layca_jax.named_layers(leaves, selection.names, EXCLUDE):  # a layer zeroed since: refused by name
            updates, states = engine.optimizer_step(
                leaves, jax.tree.leaves(grads), self.layout.unpack(base_state, params),
                layout.norms_per_leaf(init_norms, selection), _rate(self.rate, count), selection.plan,
                base=self.direction, other_rate=_rate(self.other, count), stacked=selection.stacked, as_updates=True,
                xp=jnp, **self.options,
            )  # fmt: skip
        stepped = [i for i, layer in enumerate(selection.is_layer) if layer or not self.options["freeze_others"]]
        new_base_state = self.layout.pack(states, params, stepped)
        return jax.tree.unflatten(jax.tree.structure(params), updates), new_base_state, init_norms


def scale_by_layca(
    learning_rate: Rate = defaults.RATE,
    *,
    alpha: Number = defaults.ALPHA,
    layers: MaskOrFn = None,
    stacked: MaskOrFn = None,
    order: Sequence[str] | None = None,
    include: Sequence[str] = (),
    log_layers: bool = False,
    other_learning_rate: Rate | None = None,
    freeze_others: bool = False,
    weight_decay: Number = defaults.WEIGHT_DECAY,
    variant: str = "layca",
) -> optax.GradientTransformationExtraArgs:
    """Turn the incoming updates (any Optax direction, pointing uphill) into Layca updates.

    Compose after a direction: ``optax.chain(optax.scale_by_adam(), scale_by_layca(3**-5))``.
    Each layer's update is ``layca_step(w, u, rate * m_l, r0) - w``; other leaves get
    ``-other_learning_rate * u`` (default: the rate) or 0 when ``freeze_others``. ``r0``, the layer's
    reference norm, is read from ``params`` at the first update, not at ``init`` (weights loaded after
    ``init`` keep their norms; a restored state keeps its own); ``reset_layer_norms`` re-anchors it.

    ``docs/algorithm.md`` explains ``alpha`` (Equation 1, written out), ``base``, ``variant``,
    the other parameters' rate and ``freeze_others``; ``docs/idioms.md`` the state and the Optax idioms.

    Args:
        learning_rate: the rotation rate, a number or an Optax schedule of the step count; default
            3^-3 (``RATE`` of ``layca_core.defaults``), the paper's rate after an SGD-like direction (after
            ``optax.scale_by_adam`` the paper's is 3^-5, ``ADAPTIVE_RATE``: pass it).
        alpha: layer-wise multipliers of Equation 1 over the layers in ``order``.
        layers: mask pytree (or callable params -> mask) of layer leaves; default: by path and shape, not
            embedding tables, biases (``(n, 1, ...)`` ones included) or normalisation parameters
            (``layca_optax.describe(params)`` shows each decision; ``docs/selection.md``).
        stacked: mask of leaves that stack layers along axis 0 (e.g. from ``nn.scan``).
        order: the layers' tree paths (``jax.tree_util.keystr``) in forward order; default
            tree-flatten order.
        include: kinds the default leaves out to turn as layers after all: ``"embedding"``, ``"bias"``, ``"norm"``.
        log_layers: log every leaf's role and the reason at ``init`` (``logging`` INFO, ``layca_optax`` logger).
        other_learning_rate: plain learning rate of the other leaves.
        freeze_others: keep the other leaves unchanged (the paper's setting).
        weight_decay: ``weight_decay * params`` added to the incoming updates first, as ``optax.add_decayed_weights``
            placed before this transformation adds it; on a layer the tangent projection removes it
            (``docs/algorithm.md``, "Weight decay").
        variant: ``"layca"``, ``"lars"`` or ``"hyperball"`` (``docs/algorithm.md``).
    """
    names = engine.RATE_NAMES["layca_optax"]
    engine.checked_options(
        learning_rate, alpha, variant, None, other_learning_rate, names=names, weight_decay=weight_decay
    )
    check_include(include)
    chosen = {"layers": layers, "stacked": stacked, "order": order, "include": tuple(include)}
    step = _Layca(
        layca_core.direction("sgd"), learning_rate, alpha, chosen,
        other_rate=other_learning_rate, freeze_others=freeze_others, weight_decay=weight_decay, variant=variant,
    )  # fmt: skip

    def init(params: Any) -> ScaleByLaycaState:
        if log_layers:
            step.log_roles(params)
        count, norms, _ = step.init(params)
        return ScaleByLaycaState(count, norms)

    def update(
        updates: Any, state: ScaleByLaycaState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, ScaleByLaycaState]:
        empty = layca_core.directions.EmptyState()
        updates, _, norms = step.update(updates, state.count, state.init_norms, empty, params)
        return updates, ScaleByLaycaState(optax.safe_increment(state.count), norms)

    return optax.GradientTransformationExtraArgs(init, update)


def layca(
    learning_rate: Rate | None = None,
    base: str = defaults.BASE,
    *,
    alpha: Number = defaults.ALPHA,
    layers: MaskOrFn = None,
    stacked: MaskOrFn = None,
    order: Sequence[str] | None = None,
    include: Sequence[str] = (),
    log_layers: bool = False,
    other_learning_rate: Rate | None = None,
    freeze_others: bool = False,
    weight_decay: Number = defaults.WEIGHT_DECAY,
    variant: str = "layca",
    momentum: Number | None = None,
    beta: Number | None = None,
    b1: Number | None = None,
    b2: Number | None = None,
    eps: Number | None = None,
    decay: Number | None = None,
    initial_accumulator_value: Number | None = None,
    nesterov: bool | None = None,
    out_axis: int | None = None,
    **kwargs: Any,
) -> optax.GradientTransformationExtraArgs:
    """Layca on one of the core's base directions: the same arithmetic as the torch and Keras adapters.

    ``base`` is ``sgd``, ``momentum``, ``nesterov`` (``momentum``), ``amom`` (``beta``), ``adam``
    (``b1``, ``b2``, ``eps``), ``rmsprop`` (``decay``, ``eps``), ``adagrad`` (``eps``,
    ``initial_accumulator_value``) or ``muon`` (``momentum``, ``nesterov``, ``out_axis``, and ``b1``, ``b2``,
    ``eps`` for Adam's step on leaves of fewer than two dimensions; ``nesterov`` and ``out_axis``, Python values,
    go in ``inject_hyperparams``'s ``static_args``); a hyperparameter left None takes the base's default
    (``layca_core.defaults``), one the base does not take is refused. ``learning_rate`` left None is
    ``layca_core.defaults.default_rate(base)``: 3**-3, or 3**-5 for ``adam`` and ``amom``. ``weight_decay`` is L2
    added to the gradient before the base direction (``optax.chain(optax.add_decayed_weights(wd), ...)``, torch's
    ``weight_decay``; not ``optax.adamw``'s decoupled decay). The rest is as in ``scale_by_layca``.

    Every number is injectable: ``optax.inject_hyperparams(layca)(learning_rate=0.1, alpha=0.2,
    base="momentum", momentum=0.9)`` (pass a callable ``layers`` or ``stacked`` in ``static_args``).
    ``jax.eval_shape(optimizer.init, params)``, or ``init`` on ``jax.ShapeDtypeStruct`` leaves, gives
    the abstract state; ``docs/idioms.md`` lists the Optax idioms and the tests that prove them.

    Example:
        >>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
        >>> optimizer = layca(3**-3, base="momentum", momentum=0.9)
        >>> state = optimizer.init(params)
        >>> grads = {"w": jnp.arange(6.0).reshape(3, 2), "b": jnp.ones(2)}
        >>> updates, state = optimizer.update(grads, state, params)
        >>> params = optax.apply_updates(params, updates)
    """
    given = {
        "momentum": momentum, "beta": beta, "b1": b1, "b2": b2, "eps": eps, "decay": decay,
        "initial_accumulator_value": initial_accumulator_value, "nesterov": nesterov, "out_axis": out_axis,
    }  # fmt: skip
    kwargs = {**kwargs.pop("kwargs", {}), **kwargs}  # optax.inject_hyperparams passes **kwargs nested
    learning_rate, direction = engine.checked_options(
        learning_rate, alpha, variant, base, other_learning_rate, names=engine.RATE_NAMES["layca_optax"],
        spelling=SPELLING, weight_decay=weight_decay, **core_hyperparameters(given, kwargs),
    )  # fmt: skip
    check_include(include)
    chosen = {"layers": layers, "stacked": stacked, "order": order, "include": tuple(include)}
    step = _Layca(
        direction, learning_rate, alpha, chosen,
        other_rate=other_learning_rate, freeze_others=freeze_others, weight_decay=weight_decay, variant=variant,
    )  # fmt: skip

    def init(params: Any) -> LaycaState:
        if log_layers:
            step.log_roles(params)
        return LaycaState(*step.init(params))

    def update(grads: Any, state: LaycaState, params: Any = None, **extra_args: Any) -> tuple[Any, LaycaState]:
        updates, base_state, norms = step.update(grads, state.count, state.init_norms, state.base_state, params)
        return updates, LaycaState(optax.safe_increment(state.count), norms, base_state)

    return optax.GradientTransformationExtraArgs(init, update)

"""One optimizer step over all parameters: the base directions, then Layca on the layers, each turned by the
executor the policy chooses for it (``policy.executors_for``). ``layca_optax``, ``layca_keras`` and torch's
per-tensor path (``foreach=False``) call it once per step; torch's multi-tensor path assembles the same parts itself.

Parameters come in a fixed order with a ``LayerPlan``: a Layca layer has a rate multiplier
(Equation 1), any other parameter has ``None`` and gets the plain base step
``p - other_rate * s`` (or stays frozen, the paper's setting, with ``freeze_others``).

Example:
    >>> import numpy as np
    >>> from layca_core import direction
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
from types import ModuleType
from typing import Any

from layca_core import defaults
from layca_core._namespace import array_namespace
from layca_core.directions import BaseDirection, with_weight_decay
from layca_core.engine.plan import LayerPlan
from layca_core.engine.policy import executors_for
from layca_core.engine.reference import per_layer
from layca_core.engine.turn import turn_layers
from layca_core.primitives import ARRAY
from layca_core.validation import check_rate, check_same_length


def _zeros_like(p: Any) -> Any:
    return array_namespace(p).zeros_like(p)


def initial_norms(params: Sequence[Any], plan: LayerPlan) -> list[Any]:
    """The norm to store for each Layca layer (``None`` for the other parameters)."""
    from layca_core.step import initial_norm

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
    weight_decay: Any = defaults.WEIGHT_DECAY,
    variant: str = "layca",
    stacked: Sequence[bool] | None = None,
    meshes: Sequence[Any] | None = None,
    multi_tensor: bool = True,
    as_updates: bool = False,
    xp: ModuleType | None = None,
) -> tuple[list[Any], list[Any]]:
    """Return ``(new_params, new_base_states)`` after one step.

    A layer's gradient has its non-finite entries zeroed before the base direction sees it,
    so one bad batch cannot poison the base state (and silently freeze the layer). The
    base state is updated with the raw, unprojected gradient, plus ``weight_decay * p`` (L2, added before the
    guard, as torch.optim adds it; ``layca_core.directions.with_weight_decay``). ``stacked[i]`` marks a parameter
    holding one layer per index of axis 0; its multiplier is then a tuple, one per layer.
    ``meshes[i]`` (torch): ``(device_mesh, placements)`` when ``params[i]`` is the local shard of a
    sharded layer, whose sums are then all-reduced; ``multi_tensor=False`` forces the reference
    executor (see ``layca_core.engine.executors_for``). ``as_updates`` returns increments instead of new parameters
    (Optax's convention): ``new - p`` for a layer, ``0 - other_rate * s`` (or 0) for the others.
    """
    check_same_length(params=params, grads=grads, base_states=base_states, init_norms=init_norms, plan=plan.multipliers)
    check_rate(rate)
    check_rate(other_rate, "other_rate")
    stacked = list(stacked or [False] * len(params))
    new_params = [_zeros_like(p) for p in params] if as_updates else list(params)
    new_states = list(base_states)
    layers: list[int] = []
    steps: list[Any] = []
    rates: list[list[Any]] = []  # per layer parameter, one entry per layer it holds
    norms: list[list[Any]] = []
    xp_: Any = None
    for i, (p, g, state, multiplier) in enumerate(zip(params, grads, base_states, plan.multipliers)):
        if multiplier is None and freeze_others:
            continue
        xp_ = xp or array_namespace(g)
        g = with_weight_decay(ARRAY, [g], [p], weight_decay)
        (s,), (new_states[i],) = base.steps(ARRAY, ARRAY.finite(g) if multiplier is not None else g, [state])
        if multiplier is None:
            (new_params[i],) = ARRAY.descended([new_params[i]], [s], other_rate)  # from 0 with as_updates
            continue
        layers.append(i)
        steps.append(s)
        factors: Any = multiplier if stacked[i] else (multiplier,)
        rates.append([rate * m for m in factors])
        norms.append(list(init_norms[i] if stacked[i] else (init_norms[i],)))
    weights = [params[i] for i in layers]
    layer_meshes = None if meshes is None else [meshes[i] for i in layers]
    layer_stacked = [stacked[i] for i in layers]
    chosen = executors_for(xp_, weights, stacked=layer_stacked, meshes=layer_meshes, foreach=multi_tensor)
    for executor, part in chosen:
        part_rates, part_norms = ([v for j in part for v in values[j]] for values in (rates, norms))
        turned = turn_layers(
            [weights[j] for j in part],
            [steps[j] for j in part],
            per_layer(part_rates, executor),
            per_layer(part_norms, executor),
            executor=executor,
            variant=variant,
        )
        for j, new in zip(part, turned):
            i = layers[j]
            new_params[i] = new - params[i] if as_updates else new
    return new_params, new_states

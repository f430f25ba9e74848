"""``layca_torch.Layca(foreach=False)``: the core's per-tensor reference path."""

from typing import Any

import torch

from layca_core import engine
from layca_torch import state as param_state
from layca_torch.hyperparameters import base_of
from layca_torch.sharding import is_dtensor, local, local_like, replicating


def reference_step(
    states: Any, group: dict[str, Any], params: list, grads: list, base_states: list, multipliers: list, other_rate: Any
) -> None:
    """One step of ``params`` (``multipliers[i]`` None for a non-layer), written in place and into ``states``; on
    DTensors one parameter at a time (its sums stay global DTensor ops)."""
    batches = [[i] for i in range(len(params))] if any(map(is_dtensor, params)) else [range(len(params))]
    for batch in batches:
        chosen = [params[i] for i in batch]
        with replicating(chosen):
            new, new_states = engine.optimizer_step(
                chosen, [grads[i] for i in batch], [base_states[i] for i in batch],
                [states.get(p, {}).get(param_state.INIT_NORM) for p in chosen], group["lr"],
                engine.LayerPlan(tuple(multipliers[i] for i in batch)),
                base=base_of(group), other_rate=other_rate, weight_decay=group["weight_decay"], variant=group["variant"],
                multi_tensor=False,
            )  # fmt: skip
        torch._foreach_copy_([local(p) for p in chosen], [local_like(w, p) for w, p in zip(new, chosen)])
        for p, new_state in zip(chosen, new_states):
            if new_state._fields:
                param_state.write_base_state(states[p], new_state)

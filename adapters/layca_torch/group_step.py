"""One param group's step for ``layca_torch.Layca``: the core's reference path (``foreach=False``), else the base steps
and the turn by the executors torch's policy picks, and the other parameters' plain base step."""

from typing import Any

import array_api_compat.torch as torch_namespace
import torch

from layca_core import engine
from layca_core.directions import with_weight_decay
from layca_torch import state as param_state
from layca_torch._executors.bases import TORCH, other_steps
from layca_torch._executors.multi_tensor import TorchExecutor
from layca_torch.hyperparameters import base_of
from layca_torch.params import layer_flags
from layca_torch.reference_path import reference_step
from layca_torch.sharding import local, local_shards, mesh_of


def stepped(group: dict[str, Any]) -> list[tuple[list[torch.Tensor], bool]]:
    """The parameters of ``group`` a step moves, as ``(params, layers)``: its layers with a gradient, then its other
    parameters with one (unless ``freeze_others``)."""
    flags = layer_flags(group)
    parts = [
        ([p for p, f in zip(group["params"], flags) if p.grad is not None and f == layers], layers)
        for layers in (True, False)
    ]
    return [(params, layers) for params, layers in parts if params and (layers or not group["freeze_others"])]


def step_params(optimizer: Any, group: dict[str, Any], params: list[torch.Tensor], layers: bool) -> None:
    """One step of ``params`` of ``group`` (all Layca layers, or all other parameters), written in place and into
    ``optimizer.state``."""
    grads = [torch.neg(p.grad) if group["maximize"] else p.grad for p in params]
    base, decay = base_of(group), group["weight_decay"]
    states = param_state.base_states(optimizer.state, base, params)
    if group["foreach"] is False:
        multipliers = optimizer.layer_multipliers()
        rates = [multipliers[p] if layers else None for p in params]
        reference_step(optimizer.state, group, params, grads, states, rates, other_rate(group))
    elif layers:
        multi_tensor_step(optimizer, group, params, grads, states)
    else:
        shards, grads, states = local_shards(params, grads, states)
        other_steps(shards, with_weight_decay(TORCH, grads, shards, decay), states, other_rate(group), base=base)


def multi_tensor_step(optimizer: Any, group: dict[str, Any], params: list, grads: list, states: list) -> None:
    """Base directions by ``_executors.bases``, the turn by the executors torch's policy picks (``_executors.policy``
    through ``engine.executors_for``: by device, dtype, whole-layer size, ``foreach``, ``fused``), on local shards."""
    shards, grads, states = local_shards(params, grads, states)
    grads = with_weight_decay(TORCH, grads, shards, group["weight_decay"])
    chosen = engine.executors_for(
        torch_namespace, shards, meshes=[mesh_of(p) for p in params], sizes=[p.numel() for p in params],
        foreach=group["foreach"], fused=group["fused"], in_place=True,
    )  # fmt: skip
    for executor, part in chosen:
        turn(optimizer, group, *([items[i] for i in part] for items in (params, shards, grads, states)), executor)


def turn(
    optimizer: Any,
    group: dict[str, Any],
    params: list,
    shards: list,
    grads: list,
    states: list,
    executor: TorchExecutor,
) -> None:
    """One executor's layers: its base steps (``TorchExecutor.base_steps``, states written in place), then the turn."""
    scratch = None if torch.compiler.is_compiling() else (optimizer._scratch, params)  # inductor allocates its own
    steps = executor.base_steps(base_of(group), grads, states, scratch=scratch)
    multipliers, init_norms = device_scalars(optimizer, params, executor.acc)
    new = engine.turn_layers(
        shards, steps, group["lr"] * multipliers, init_norms, executor=executor, variant=group["variant"]
    )
    rounded = [(p, w) for p, w in zip(shards, new) if w is not p]
    if rounded:
        torch._foreach_copy_([p for p, _ in rounded], [w for _, w in rounded])


def device_scalars(optimizer: Any, params: list[torch.Tensor], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Multipliers and initial norms of ``params`` as vectors on their (local) device, built once (``_scalars``,
    emptied when the layers or their norms change); built at every step inside ``torch.compile`` (a cache written
    by a compiled step would make the next one compile again), where they cost nothing."""
    multipliers, device = optimizer.layer_multipliers(), local(params[0]).device
    key = (*map(id, params), dtype, device)
    if key in optimizer._scalars:
        return optimizer._scalars[key]
    scalars = (
        torch.tensor([multipliers[p] for p in params], dtype=dtype, device=device),
        torch.stack([optimizer.state[p][param_state.INIT_NORM] for p in params]).to(device, dtype),
    )
    if not torch.compiler.is_compiling():
        optimizer._scalars[key] = scalars
    return scalars


def other_rate(group: dict[str, Any]) -> Any:
    """The plain learning rate of a group's other parameters: ``other_lr``, else ``lr``."""
    return group["lr"] if group["other_lr"] is None else group["other_lr"]

"""DTensor plumbing for ``layca_torch.Layca``: local shards, their meshes, global values."""

import contextlib
import functools
from typing import Any


def local(tensor: Any) -> Any:
    """The local shard of a DTensor, the tensor itself otherwise."""
    return tensor.to_local() if is_dtensor(tensor) else tensor


def local_shards(params: list, grads: list, states: list) -> tuple[list, list, list]:
    """The local shards of parameters, their gradients and state tuples (all as given when nothing is sharded)."""
    if not any(map(is_dtensor, params)):
        return params, grads, states
    return [local(p) for p in params], [local(g) for g in grads], [type(s)(*map(local, s)) for s in states]


def local_like(value: Any, param: Any) -> Any:
    """The part of ``value`` that ``param``'s local shard holds (a DTensor value laid out as ``param`` first)."""
    if is_dtensor(value) and is_dtensor(param):
        value = value.redistribute(param.device_mesh, param.placements)
    return local(value)


def mesh_of(tensor: Any) -> Any:
    return (tensor.device_mesh, tensor.placements) if is_dtensor(tensor) else None


def is_dtensor(tensor: Any) -> bool:
    return isinstance(tensor, _dtensor_type())


@functools.cache
def _dtensor_type() -> type:
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # torch built without distributed
        return type(None)
    return DTensor


def replicating(params: list[Any]) -> Any:
    """Around the core's reference path on DTensors: its plain tensors (rates, guards, counts) count as replicated."""
    if not any(map(is_dtensor, params)):
        return contextlib.nullcontext()
    from torch.distributed.tensor.experimental import implicit_replication

    return implicit_replication()


def global_float(value: Any) -> float:
    """A 0-d tensor (a DTensor's global value) as a Python float."""
    return float(value.full_tensor() if is_dtensor(value) else value)

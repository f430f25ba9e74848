"""Whole-layer values from the local partial values of layers sharded as ``torch.distributed.tensor.DTensor``.

The per-layer partial sums of all layers are all-reduced together, once per reduction, over the
layers' device mesh (a replicated dimension contributes from its first rank only): in one collective
when the mesh holds every rank, else one per mesh dimension.
"""

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist


def all_reduce(local: Any, meshes: Sequence[Any], maximum: bool = False) -> Any:
    """``local`` (one value per layer, or several rows of them) summed (or maxed) over the layers' mesh.

    ``meshes[i]`` is layer i's ``(device_mesh, placements)`` when it is sharded, else None; without a
    sharded layer, ``local`` itself.
    """
    sharded = [m for m in meshes if m is not None]
    if not sharded:
        return local
    mesh = sharded[0][0]
    if any(m[0] != mesh for m in sharded):
        raise ValueError("Layca needs every sharded layer on one device mesh; got layers on several meshes.")
    values = local.reshape(-1, len(meshes)) * _counted(mesh, meshes, local)
    groups = [None] if mesh.size() == dist.get_world_size() else [mesh.get_group(d) for d in range(mesh.ndim)]
    for group in groups:
        dist.all_reduce(values, op=dist.ReduceOp.MAX if maximum else dist.ReduceOp.SUM, group=group)
    return values.reshape(-1)


def _counted(mesh: Any, meshes: Sequence[Any], like: Any) -> Any:
    """1 where this rank's partial value of a layer counts, 0 where another replica already counts it."""
    coordinate = mesh.get_coordinate()
    weights = []
    for entry in meshes:
        replicated = range(mesh.ndim) if entry is None else [d for d, p in enumerate(entry[1]) if p.is_replicate()]
        weights.append(1.0 if all(coordinate[d] == 0 for d in replicated) else 0.0)
    return torch.tensor(weights, dtype=like.dtype, device=like.device)

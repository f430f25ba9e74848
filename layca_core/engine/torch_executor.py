"""The engine's primitives for torch tensors as multi-tensor (``torch._foreach_*``) kernels.

Sums accumulate per chunk of ``CHUNK`` entries in the working dtype (tree-reduced, accurate
to a few ulps), and chunks are added in float64: two passes (the engine's ``exact_products`` is
False). Steps are cleaned of non-finite entries (into copies, or in place with ``in_place``), then
scaled and projected in place; new weights are fresh tensors, or with ``in_place`` written into
32- and 64-bit weights (16-bit weights are turned in float32 copies and rounded once). No host
synchronisation.

Sharded layers (``torch.distributed.tensor.DTensor``): every primitive works on the local
shards; the per-layer partial sums of all layers are all-reduced together, once per reduction,
over the layers' device mesh (a replicated dimension contributes from its first rank only): in one
collective when the mesh holds every rank, else one per mesh dimension.
torch is imported when the executor is built, never with ``layca_core``.
"""

import importlib
import sys
from collections.abc import Sequence
from typing import Any

from layca_core._namespace import is_low_precision

CHUNK = 16384


def _torch() -> Any:
    """torch itself: imported already, since the executor is built for torch tensors (and
    ``torch.compile`` traces a module lookup, not an import)."""
    return sys.modules["torch"]


class TorchExecutor:
    """Multi-tensor primitives over local tensors.

    ``meshes[i]`` is layer i's ``(device_mesh, placements)`` when it is sharded, else None.
    ``in_place`` (an optimizer's own step): clean the steps in place and write the new 32- and 64-bit
    weights into ``ws``.
    """

    exact_products = False

    def __init__(self, xp: Any, device: Any, meshes: Sequence[Any] | None = None, in_place: bool = False) -> None:
        self.xp, self.torch, self.device, self.in_place = xp, _torch(), device, in_place
        self.acc = self.torch.float64 if device.type != "mps" else self.torch.float32
        self.meshes = list(meshes or [])
        self._vectors: dict[tuple[float, ...], Any] = {}

    def prepare(self, ws: list[Any]) -> "TorchExecutor":
        return self

    def vector(self, values: Sequence[float]) -> Any:
        key = tuple(values)
        if key not in self._vectors:
            self._vectors[key] = self.torch.tensor(key, dtype=self.acc, device=self.device)
        return self._vectors[key]

    def per_tensor(self, values: Sequence[float]) -> Any:
        return self.vector(values)

    def finite(self, xs: list[Any]) -> list[Any]:
        """In place for an optimizer's own scratch steps (``in_place``), else into copies."""
        clean = self.torch.nan_to_num_ if self.in_place else self.torch.nan_to_num
        return [clean(x, nan=0.0, posinf=0.0, neginf=0.0) for x in xs]

    def amax(self, xs: list[Any]) -> Any:
        torch = self.torch
        extremes = [torch.aminmax(x) if x.numel() else (x.new_zeros(()), x.new_zeros(())) for x in xs]  # empty shard: 0
        local = torch.stack([torch.maximum(-low, high) for low, high in extremes]).to(self.acc)
        return self._all_reduce(local, maximum=True)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        work = [x.float() if is_low_precision(x.dtype, self.xp) else x for x in xs]
        self.torch._foreach_mul_(work, _per_layer(factors, work))
        return work

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        torch = self.torch
        dots = torch.stack([torch.sum(w * x, dtype=x.dtype).to(self.acc) for w, x in zip(ws, xs)])
        parts = [self._local_squares(ws), dots] + ([self._local_squares(xs)] if with_squares else [])
        return tuple(self._all_reduce(torch.cat(parts)).reshape(len(parts), len(ws)).unbind())

    def squares(self, xs: list[Any]) -> Any:
        return self._all_reduce(self._local_squares(xs))

    def perp(self, xs: list[Any], ws: list[Any], c: Any) -> list[Any]:
        self.torch._foreach_addcmul_(xs, self._work(ws), _per_layer(-c, xs))
        return xs

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        work = self._work(ws)
        if self.in_place:
            self.torch._foreach_mul_(work, _per_layer(a, work))
        else:
            work = self.torch._foreach_mul(work, _per_layer(a, work))
        self.torch._foreach_addcmul_(work, xs, _per_layer(b, work))
        return work

    def _work(self, ws: list[Any]) -> list[Any]:
        return [w.float() if is_low_precision(w.dtype, self.xp) else w for w in ws]

    def _local_squares(self, xs: list[Any]) -> Any:
        """Per layer, the sum of squares of its local entries: chunk norms, added in float64."""
        torch = self.torch
        if all(x.numel() <= CHUNK for x in xs):
            return torch.stack(torch._foreach_norm(xs, 2)).to(self.acc) ** 2
        chunks, owners = [], []
        for index, x in enumerate(xs):
            pieces = x.reshape(-1).split(CHUNK)
            chunks.extend(pieces)
            owners.extend([index] * len(pieces))
        norms = torch.stack(torch._foreach_norm(chunks, 2)).to(self.acc)
        owner = torch.tensor(owners, device=norms.device)
        return torch.zeros(len(xs), dtype=self.acc, device=norms.device).index_add_(0, owner, norms * norms)

    def _all_reduce(self, local: Any, maximum: bool = False) -> Any:
        """Whole-layer values from local partial ones, all layers at once: one collective over a mesh of every rank,
        else one per mesh dimension."""
        sharded = [m for m in self.meshes if m is not None]
        if not sharded:
            return local
        dist = importlib.import_module("torch.distributed")
        mesh = sharded[0][0]
        if any(m[0] != mesh for m in sharded):
            raise ValueError("Layca needs every sharded layer on one device mesh; got layers on several meshes.")
        values = local.reshape(-1, len(self.meshes)) * self._counted(mesh).to(local.dtype)
        groups = [None] if mesh.size() == dist.get_world_size() else [mesh.get_group(d) for d in range(mesh.ndim)]
        for group in groups:
            dist.all_reduce(values, op=dist.ReduceOp.MAX if maximum else dist.ReduceOp.SUM, group=group)
        return values.reshape(-1)

    def _counted(self, mesh: Any) -> Any:
        """1 where this rank's partial value of a layer counts, 0 where another replica already counts it."""
        coordinate = mesh.get_coordinate()
        weights = []
        for entry in self.meshes:
            replicated = range(mesh.ndim) if entry is None else [d for d, p in enumerate(entry[1]) if p.is_replicate()]
            weights.append(1.0 if all(coordinate[d] == 0 for d in replicated) else 0.0)
        return self.torch.tensor(weights, device=self.device)


def _per_layer(values: Any, like: list[Any]) -> list[Any]:
    """A vector of per-layer scalars as 0-d tensors in each tensor's dtype (no host sync)."""
    dtypes = {t.dtype for t in like}
    if len(dtypes) == 1:
        return list(values.to(dtypes.pop()).unbind())
    return [v.to(t.dtype) for v, t in zip(values.unbind(), like)]

"""Each Layca layer's reference norm, the radius of its sphere: read at the layer's first step, not when the
optimizer is built, so that weights loaded in between (a pretrained model) keep their norms."""

import math
from collections.abc import Callable
from typing import Any

import array_api_compat.torch as torch_namespace
import torch

import layca_core
from layca_core import step
from layca_core.validation import check_nonzero_norms
from layca_torch._executors.policy import build_executor
from layca_torch.params import describe, layer_flags
from layca_torch.sharding import is_dtensor, local, mesh_of
from layca_torch.state import INIT_NORM

EXCLUDE = (
    "Put it in a param group with layca=False, or choose the layers with Layca(..., layers=...) or "
    "layca_param_groups(model, layers=...)."
)
"""How to leave a parameter out of the Layca layers, in the zero-norm error."""


def layer_norms(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The layers' Frobenius norms as 0-d tensors in their accumulation dtype; sharded layers' global ones, all read
    at once by the multi-tensor executor on their local shards (two all-reduces for all of them)."""
    norms = [None if is_dtensor(p) else layca_core.initial_norm(p.detach()) for p in params]
    sharded = [i for i, n in enumerate(norms) if n is None]
    if sharded:
        shards = [local(params[i].detach()) for i in sharded]
        meshes = [mesh_of(params[i]) for i in sharded]
        executor = build_executor("multi_tensor", torch_namespace, shards, meshes=meshes)
        for i, norm in zip(sharded, step.layer_norms(shards, executor=executor).unbind()):
            norms[i] = norm.to(torch.promote_types(params[i].dtype, torch.float32))
    return norms


def read_norms(layers: list[tuple[str, torch.Tensor]], exclude: str = EXCLUDE) -> list[torch.Tensor]:
    """The norms of ``(name, layer)`` pairs, refused together (nothing stored yet) if one is zero or not finite;
    ``exclude`` says how to leave such a layer out.

    Eagerly the check names every such layer; inside ``torch.compile`` it is an asynchronous assertion naming
    the layer (no host synchronisation, no graph break).
    """
    norms = layer_norms([p for _, p in layers])
    if torch.compiler.is_compiling():
        for (name, _), norm in zip(layers, norms):
            torch._assert_async(
                torch.isfinite(norm) & (norm > 0),
                f"Layca cannot rotate the layer {name}: its norm at its first step is zero or not finite. {exclude}",
            )
    elif norms:
        values = torch.stack([n.to("cpu", torch.float64) for n in norms]).tolist()
        check_nonzero_norms(values, [name for name, _ in layers], exclude=exclude)
    return norms


def store_new_norms(states: Any, param_groups: list[dict[str, Any]]) -> None:
    """Read the norm of every layer of ``param_groups`` that has none in ``states`` yet, and store it there
    (all are checked before any is stored)."""
    new = [
        (describe(group, i), p)
        for group in param_groups
        for i, (p, layer) in enumerate(zip(group["params"], layer_flags(group)))
        if layer and INIT_NORM not in states.get(p, {})
    ]
    for (_, p), norm in zip(new, read_norms(new)):
        states[p][INIT_NORM] = norm


def as_stored(value: Any, param: torch.Tensor) -> torch.Tensor:
    """A saved norm (a Python number from older checkpoints, or a tensor) as kept in the state: a 0-d tensor in
    the layer's accumulation dtype on its (local) device."""
    return torch.as_tensor(value).to(param.device, torch.promote_types(param.dtype, torch.float32))


class WrittenLayers:
    """Refuses, by name, a layer set to zero (or to non-finite values) after its norm was stored, before a step changes
    anything: its largest entry is read only for the layers written since the optimizer's last step, as torch's
    version counter of a tensor tells (``p._version``: no read of the weights), on the CPU outside ``torch.compile``. A
    layer on another device (its read would wait for the device), a sharded one (``DTensor``), and a write the version
    counter does not see (through ``p.data``, or a new ``p.data``) are not checked: the step leaves such a layer
    unchanged (the engine's guard)."""

    def __init__(self) -> None:
        self.versions: list[int] | None = None
        self.unchecked: list[int] = []

    def refuse_zeroed(
        self,
        layers: list[torch.Tensor],
        stored: Callable[[torch.Tensor], bool],
        name: Callable[[int], str],
        exclude: str,
    ) -> None:
        """Refuse the layers among ``layers`` (all the optimizer's layers, in a fixed order) written since ``record``
        that this step turns (they have a gradient) with a stored norm (``stored``: it reads the others' norms, and
        refuses a zero one there) and that are all zero or not finite; ``name(k)`` names ``layers[k]``, ``exclude``
        says how to leave it out."""
        versions = [p._version for p in layers]
        if versions == self.versions or torch.compiler.is_compiling():
            return
        seen = self.versions if self.versions is not None and len(self.versions) == len(layers) else [-1] * len(layers)
        changed = [k for k, v in enumerate(versions) if seen[k] != v and layers[k].is_cpu and not is_dtensor(layers[k])]
        checked = [k for k in changed if layers[k].grad is not None and stored(layers[k])]
        self.unchecked = [k for k in changed if layers[k].grad is None]  # checked at the step that turns them
        if checked:
            extremes = [torch.aminmax(layers[k].detach()) for k in checked]
            largest = torch.stack([torch.maximum(-low, high) for low, high in extremes]).double().tolist()
            largest = [math.inf if math.isnan(x) else x for x in largest]
            check_nonzero_norms(largest, [name(k) for k in checked], exclude=exclude)

    def record(self, layers: list[torch.Tensor]) -> None:
        """The layers' versions after a step (outside ``torch.compile``), but those ``refuse_zeroed`` left unchecked."""
        if torch.compiler.is_compiling():
            return
        self.versions = [p._version for p in layers]
        for k in self.unchecked:
            self.versions[k] = -1
        self.unchecked = []

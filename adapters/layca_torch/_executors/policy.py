"""Torch's executor policy: which executor turns which torch layers, decided in one function.

``choose_executor`` is the whole decision table, a pure function of a layer's description, so it is
tested without a GPU; ``torch_executors`` applies it to a list of layers and builds the chosen
executors. ``import layca_torch`` registers it with the core (``layca_core.engine.register_executors``),
so every step on torch tensors goes through it: ``layca_torch.Layca``'s and Keras's on the torch backend.

Torch's convention: multi-tensor kernels by default on every device, fused kernels on request (``fused=True``): the
compiled executor's ``torch.compile``d loops, on CPU and CUDA layers of more than ``COMPILED_MIN_SIZE`` entries.
Small CPU layers (``FLAT_MAX_SIZE``) take the flat executor either way: stacked by shape, in float64 (the one-pass
recipe), a few kernels turn hundreds of them. Inside ``torch.compile`` unsharded layers of 32 bits or fewer take the
compiled executor on every device (its kernels as whole-tensor expressions of the traced step, which inductor fuses).
The compiled executor has run on the CPU only so far (``scripts/gpu.sh``, ``docs/gpu.md``).
"""

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import torch

from layca_core.engine import Executor, ReferenceExecutor
from layca_torch._executors.compiled_executor import CompiledExecutor
from layca_torch._executors.flat_executor import FlatExecutor
from layca_torch._executors.multi_tensor import TorchExecutor

EXECUTORS = ("reference", "multi_tensor", "flat", "compiled")
COMPILED_MIN_SIZE = 16384
"""Layers of more entries take the compiled executor with ``fused=True`` (a kernel call costs tens of microseconds,
more than the multi-tensor kernels spend on a small layer)."""
FLAT_MAX_SIZE = COMPILED_MIN_SIZE
"""CPU layers of at most this many entries (32 bits or fewer, not sharded, outside ``torch.compile``) take the flat
executor, with or without ``fused``: stacked by size, a few kernels turn hundreds of them."""


def choose_executor(
    device: str,
    dtype: str,
    size: int,
    *,
    foreach: bool | None = None,
    fused: bool | None = None,
    sharded: bool = False,
    stacked: bool = False,
    compiling: bool = False,
) -> str:
    """The executor (one of ``EXECUTORS``) that turns one torch layer.

    Args:
        device: the layer's device type (``"cpu"``, ``"cuda"``...).
        dtype: its dtype's name (``"float32"``...).
        size: its number of entries, the whole layer's for a shard (so every rank decides alike).
        foreach: torch's option: False asks for the reference (per-tensor) path.
        fused: torch's option: True asks for the fused one-pass kernels.
        sharded: it is the local shard of a sharded (``DTensor``) layer.
        stacked: it holds several layers along axis 0.
        compiling: the step is being traced by ``torch.compile``.
    """
    if stacked or foreach is False:
        if sharded:
            raise ValueError("Sharded layers given as local shards need torch's multi-tensor executor (foreach=True).")
        return "reference"
    if fused and device not in ("cpu", "cuda"):
        raise ValueError(f"fused=True runs on CPU and CUDA tensors; got a layer on {device}.")
    if dtype == "float64":  # the one-pass kernels need every product of the layer's dtype exact in float64
        return "multi_tensor"
    if compiling and not sharded:
        return "compiled"
    if device == "cpu" and not sharded and size <= FLAT_MAX_SIZE:
        return "flat"
    if fused and not compiling and size > COMPILED_MIN_SIZE:
        return "compiled"
    return "multi_tensor"


def torch_executors(
    xp: ModuleType,
    ws: Sequence[Any],
    *,
    stacked: Sequence[bool],
    meshes: Sequence[Any],
    sizes: Sequence[int] | None,
    foreach: bool | None,
    fused: bool | None,
    in_place: bool,
) -> list[tuple[Executor, list[int]]]:
    """The executors that turn the torch layers ``ws`` (``choose_executor`` for each), each prepared for its layers
    and given with their indices in ``ws`` (the policy ``layca_core.engine.executors_for`` calls for torch tensors).

    ``meshes[i]``: ``(device_mesh, placements)`` when ``ws[i]`` is the local shard of a sharded layer;
    ``sizes[i]``: the whole layer's number of entries (default: ``ws[i]``'s); ``in_place``: an executor
    may write the new weights into ``ws`` (an optimizer's own step).
    """
    compiling = torch.compiler.is_compiling()
    groups: dict[str, list[int]] = {}
    decided: dict[tuple, str] = {}  # many layers share a description: decide each once (a step asks per layer)
    for i, w in enumerate(ws):
        size = sizes[i] if sizes is not None else w.numel()
        key = (_device_type(w), w.dtype, size, meshes[i] is not None, stacked[i])
        if key not in decided:
            dtype = str(w.dtype).rpartition(".")[2]
            decided[key] = choose_executor(
                key[0],
                dtype,
                size,
                foreach=foreach,
                fused=fused,
                sharded=key[3],
                stacked=key[4],
                compiling=compiling,
            )
        groups.setdefault(decided[key], []).append(i)
    chosen: list[tuple[Executor, list[int]]] = []
    for name, part in groups.items():
        layers, flags, shards = [ws[i] for i in part], [stacked[i] for i in part], [meshes[i] for i in part]
        chosen.append((build_executor(name, xp, layers, stacked=flags, meshes=shards, in_place=in_place), part))
    return chosen


def build_executor(
    name: str,
    xp: ModuleType,
    layers: list[Any],
    *,
    stacked: Sequence[bool] | None = None,
    meshes: Sequence[Any] | None = None,
    in_place: bool = False,
) -> Executor:
    """The executor called ``name`` (one of ``EXECUTORS``), prepared for ``layers`` (see ``torch_executors``)."""
    if name == "reference":
        return ReferenceExecutor(xp, layers[0], stacked).prepare(layers)
    chosen: type[TorchExecutor]
    if name == "multi_tensor":
        chosen = TorchExecutor
    elif name == "flat":
        chosen = FlatExecutor
    else:
        chosen = CompiledExecutor
    return chosen(xp, layers[0].device, meshes, in_place).prepare(layers)


def _device_type(w: Any) -> str:
    """The tensor's device type; ``is_cpu`` and ``is_cuda`` first (a step asks for every layer, and they cost a
    tenth of ``device.type``)."""
    if w.is_cpu:
        return "cpu"
    if w.is_cuda:
        return "cuda"
    return w.device.type

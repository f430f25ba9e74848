"""The executor policy: which executor turns which layers, decided in one function.

``choose_executor`` is the whole decision table, a pure function of a layer's description, so it is
tested without a GPU; ``executors_for`` applies it to a list of layers and builds the chosen
executors (importing a torch executor only when it is chosen, never with ``layca_core``).

Torch's convention: multi-tensor kernels by default on every device, fused kernels on request
(``fused=True``): Triton on CUDA, ``torch.compile`` kernels on the CPU for layers of more than
``COMPILED_MIN_SIZE`` entries. Small CPU layers (``FLAT_MAX_SIZE``) take the flat executor either way:
stacked by shape, in float64 (the one-pass recipe), a few kernels turn hundreds of them. The Triton kernels have run only under ``TRITON_INTERPRET=1`` on CPU
tensors so far: they stay opt-in until ``scripts/gpu.sh`` has passed on a GPU (``docs/gpu.md``).

``LAYCA_TRITON`` is a debugging aid, not an option: ``1`` sends every layer the multi-tensor or
compiled executor would turn to the Triton one (on CPU tensors under ``TRITON_INTERPRET=1``),
``0`` never uses it (``fused=True`` on CUDA then runs the multi-tensor executor).
"""

import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from layca_core._namespace import _library
from layca_core.engine.reference import ReferenceExecutor
from layca_core.engine.turn import Executor

EXECUTORS = ("reference", "xla", "multi_tensor", "flat", "compiled", "triton")
COMPILED_MIN_SIZE = 16384
"""Layers of more entries take the compiled executor with ``fused=True`` on the CPU (a kernel call costs tens of
microseconds, more than the multi-tensor kernels spend on a small layer)."""
FLAT_MAX_SIZE = COMPILED_MIN_SIZE
"""CPU layers of at most this many entries (32 bits or fewer, not sharded, outside ``torch.compile``) take the flat
executor, with or without ``fused``: stacked by size, a few kernels turn hundreds of them."""


def choose_executor(
    device: str,
    dtype: str,
    size: int,
    *,
    torch: bool = True,
    jax: bool = False,
    foreach: bool | None = None,
    fused: bool | None = None,
    sharded: bool = False,
    stacked: bool = False,
    compiling: bool = False,
    triton: bool | None = None,
) -> str:
    """The executor (one of ``EXECUTORS``) that turns one layer.

    Args:
        device: the layer's device type (``"cpu"``, ``"cuda"``...).
        dtype: its dtype's name (``"float32"``...).
        size: its number of entries, the whole layer's for a shard (so every rank decides alike).
        torch: whether it is a torch tensor (other arrays take the reference executor).
        jax: whether it is a JAX array (unstacked ones take the XLA executor).
        foreach: torch's option: False asks for the reference (per-tensor) path.
        fused: torch's option: True asks for the fused one-pass kernels.
        sharded: it is the local shard of a sharded (``DTensor``) layer.
        stacked: it holds several layers along axis 0.
        compiling: the step is being traced by ``torch.compile``.
        triton: the ``LAYCA_TRITON`` override (None when unset).
    """
    if not torch or stacked or foreach is False:
        if sharded:
            raise ValueError("Sharded layers given as local shards need torch's multi-tensor executor (foreach=True).")
        return "xla" if jax and not torch and not stacked else "reference"
    if fused and device not in ("cpu", "cuda"):
        raise ValueError(f"fused=True runs on CPU and CUDA tensors; got a layer on {device}.")
    if dtype == "float64":  # the one-pass kernels need every product of the layer's dtype exact in float64
        return "multi_tensor"
    if triton if triton is not None else bool(fused) and device == "cuda":
        return "triton"
    if device == "cpu" and not compiling and not sharded and size <= FLAT_MAX_SIZE:
        return "flat"
    if fused and device == "cpu" and not compiling and size > COMPILED_MIN_SIZE:
        return "compiled"
    return "multi_tensor"


def triton_override() -> bool | None:
    """``LAYCA_TRITON`` (a debugging aid): True for 1, False for 0, None when unset."""
    setting = os.environ.get("LAYCA_TRITON", "")
    if setting not in ("", "0", "1"):
        raise ValueError(f"LAYCA_TRITON must be 0 or 1; got {setting!r}.")
    return None if not setting else setting == "1"


def executors_for(
    xp: ModuleType,
    ws: Sequence[Any],
    *,
    stacked: Sequence[bool] | None = None,
    meshes: Sequence[Any] | None = None,
    sizes: Sequence[int] | None = None,
    foreach: bool | None = None,
    fused: bool | None = None,
    in_place: bool = False,
) -> list[tuple[Executor, list[int]]]:
    """The executors that turn the layers ``ws`` (``choose_executor`` for each), each prepared for its layers and
    given with their indices in ``ws``.

    ``meshes[i]``: ``(device_mesh, placements)`` when ``ws[i]`` is the local shard of a sharded layer;
    ``sizes[i]``: the whole layer's number of entries (default: ``ws[i]``'s); ``in_place``: a torch executor
    may write the new weights into ``ws`` (an optimizer's own step).
    """
    stacked, meshes = list(stacked or [False] * len(ws)), list(meshes or [None] * len(ws))
    torch = bool(ws) and _library(ws[0]) == "torch"
    jax = xp.__name__.startswith("jax")
    compiling = torch and sys.modules["torch"].compiler.is_compiling()
    override = triton_override() if torch else None
    groups: dict[str, list[int]] = {}
    decided: dict[tuple, str] = {}  # many layers share a description: decide each once (a step asks per layer)
    for i, w in enumerate(ws):
        size = sizes[i] if sizes is not None else w.numel() if torch else 0
        key = (_device_type(w) if torch else None, w.dtype, size, meshes[i] is not None, stacked[i])
        if key not in decided:
            decided[key] = choose_executor(
                key[0], str(w.dtype).rpartition(".")[2], size, torch=torch, jax=jax, foreach=foreach, fused=fused,
                sharded=key[3], stacked=key[4], compiling=compiling, triton=override,
            )  # fmt: skip
        groups.setdefault(decided[key], []).append(i)
    return [
        (
            build_executor(
                name, xp, [ws[i] for i in part], stacked=[stacked[i] for i in part],
                meshes=[meshes[i] for i in part], in_place=in_place,
            ),  # fmt: skip
            part,
        )
        for name, part in groups.items()
    ]


def build_executor(
    name: str,
    xp: ModuleType,
    layers: list[Any],
    *,
    stacked: Sequence[bool] | None = None,
    meshes: Sequence[Any] | None = None,
    in_place: bool = False,
) -> Executor:
    """The executor called ``name`` (one of ``EXECUTORS``), prepared for ``layers`` (see ``executors_for``)."""
    if name == "reference":
        return ReferenceExecutor(xp, layers[0], stacked).prepare(layers)
    if name == "xla":
        from layca_core.engine.xla import XlaExecutor

        return XlaExecutor(xp, layers[0], stacked).prepare(layers)
    # import statements, not importlib: torch.compile traces a module lookup, never a call of import_module
    if name == "multi_tensor":
        from layca_core.torch_executors.multi_tensor import TorchExecutor as chosen
    elif name == "flat":
        from layca_core.torch_executors.flat_executor import FlatExecutor as chosen
    elif name == "compiled":
        from layca_core.torch_executors.compiled_executor import CompiledExecutor as chosen
    else:
        from layca_core.torch_executors import triton_executor

        triton_executor.check_available(layers[0].device.type)
        chosen = triton_executor.TritonExecutor
    return chosen(xp, layers[0].device, meshes, in_place).prepare(layers)


def _device_type(w: Any) -> str:
    """The array's device type; torch's ``is_cpu`` and ``is_cuda`` first (a step asks for every layer, and they cost
    a tenth of ``device.type``)."""
    if getattr(w, "is_cpu", False):
        return "cpu"
    if getattr(w, "is_cuda", False):
        return "cuda"
    return getattr(getattr(w, "device", None), "type", None) or "cpu"

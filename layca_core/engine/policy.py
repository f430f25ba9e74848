"""The executor hook: an adapter supplies the executors for its framework's arrays; the core falls back to its own.

An adapter registers, for its array type, a policy that picks and builds the executors of a list of layers
(``register_executors``; ``import layca_torch`` registers torch's, ``import layca_jax`` the XLA one);
``executors_for`` hands the layers to the policy registered for the type of the first of them (one
``isinstance`` per registered type, which ``torch.compile`` traces without a graph break), and gives
every other array the array-API ``ReferenceExecutor``.
"""

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from layca_core._namespace import register_namespace
from layca_core.engine.reference import ReferenceExecutor
from layca_core.engine.turn import Executor

Policy = Callable[..., list[tuple[Executor, list[int]]]]
"""``policy(xp, ws, *, stacked, meshes, sizes, foreach, fused, in_place)``: ``executors_for``'s answer for ``ws``."""

_POLICIES: list[tuple[type, Policy]] = []


def register_executors(array_type: type, policy: Policy, *, namespace: ModuleType | None = None) -> None:
    """Turn layers of ``array_type`` with the executors ``policy`` chooses (replacing an earlier registration).

    Args:
        array_type: the framework's array class (subclasses included).
        policy: called by ``executors_for`` with its arguments (``stacked`` and ``meshes`` filled in per layer).
        namespace: the array-API namespace of such arrays, then given by ``layca_core.array_namespace`` without
            array-api-compat's type dispatch (a ``torch.compile`` graph stays whole), with the scalars the core
            creates placed on the arrays' device.
    """
    _POLICIES[:] = [entry for entry in _POLICIES if entry[0] is not array_type] + [(array_type, policy)]
    if namespace is not None:
        register_namespace(array_type, namespace)


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
    """The executors that turn the layers ``ws``, each prepared for its layers and given with their indices in ``ws``.

    ``stacked[i]``: ``ws[i]`` holds several layers along axis 0; ``meshes[i]``: ``(device_mesh, placements)`` when
    ``ws[i]`` is the local shard of a sharded layer; ``sizes[i]``: the whole layer's number of entries (default:
    ``ws[i]``'s); ``foreach``, ``fused``: the framework's options; ``in_place``: an executor may write the new
    weights into ``ws`` (an optimizer's own step). Layers of one call share an array type.
    """
    if not ws:
        return []
    stacked, meshes = list(stacked or [False] * len(ws)), list(meshes or [None] * len(ws))
    for array_type, policy in _POLICIES:
        if isinstance(ws[0], array_type):
            return policy(
                xp, ws, stacked=stacked, meshes=meshes, sizes=sizes, foreach=foreach, fused=fused, in_place=in_place
            )
    if any(mesh is not None for mesh in meshes):
        raise ValueError("Sharded layers need their framework's executors: import its adapter (layca_torch) first.")
    return [(ReferenceExecutor(xp, ws[0], stacked).prepare(list(ws)), list(range(len(ws))))]

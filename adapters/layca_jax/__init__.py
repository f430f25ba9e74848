"""layca_jax: what ``layca_optax`` and Keras on JAX share: JAX's executor of the Layca step (``xla``) and the host
check of the layers' norms a jitted step reads, and the layers' names for the executor's refusals (``host``).

Importing it registers ``xla_executors`` for ``jax.Array`` (traced arrays included) with the core
(``layca_core.engine.register_executors``); ``layca_optax`` and ``layca_keras`` on the JAX backend import it.
No optax here: it depends on JAX alone.
"""

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import jax

from layca_core import engine
from layca_jax.host import host_checked, named_layers
from layca_jax.xla import XlaExecutor

__all__ = ["XlaExecutor", "host_checked", "named_layers", "xla_executors"]


def xla_executors(
    xp: ModuleType,
    ws: Sequence[Any],
    *,
    stacked: Sequence[bool],
    meshes: Sequence[Any],
    sizes: Sequence[int] | None,
    foreach: bool | None,
    fused: bool | None,
    in_place: bool,
) -> list[tuple[engine.Executor, list[int]]]:
    """The XLA executor for the layers of JAX arrays, the reference one for stacked ones (several layers along axis
    0), each prepared for its layers and given with their indices in ``ws`` (``engine.executors_for``'s answer)."""
    if any(mesh is not None for mesh in meshes):
        raise ValueError("Layers given as local shards are torch's (DTensor); pass JAX arrays whole, sharded or not.")
    parts: dict[bool, list[int]] = {}
    for i, one in enumerate(stacked):
        parts.setdefault(bool(one), []).append(i)
    chosen: list[tuple[engine.Executor, list[int]]] = []
    for one, part in parts.items():
        executor = engine.ReferenceExecutor if one else XlaExecutor
        layers = [ws[i] for i in part]
        chosen.append((executor(xp, layers[0], [stacked[i] for i in part]).prepare(layers), part))
    return chosen


engine.register_executors(jax.Array, xla_executors)

"""Which leaves of a parameter pytree are Layca layers, in which order, and which hold stacks."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

import layca_core
from layca_core import defaults

MaskOrFn = Any | Callable[[Any], Any] | None


def _resolve(mask: MaskOrFn, params: Any, default: Callable[[Any], bool]) -> list[bool]:
    """A mask pytree, or a callable returning one (the ``optax.masked`` convention), as flat bools."""
    if mask is None:
        return [default(leaf) for leaf in jax.tree.leaves(params)]
    tree = mask(params) if callable(mask) else mask
    flags = jax.tree.leaves(tree)
    if len(flags) != len(jax.tree.leaves(params)):
        raise ValueError("A layer/stack mask must have one boolean per parameter leaf, in the same tree structure.")
    return [bool(flag) for flag in flags]


@dataclass(frozen=True)
class Selection:
    """Per flat leaf: is it a layer, how many layers it stacks (1 if not stacked), and names."""

    names: tuple[str, ...]
    is_layer: tuple[bool, ...]
    stack: tuple[int, ...]
    multipliers: tuple[tuple[float, ...] | None, ...]

    @classmethod
    def build(
        cls, params: Any, layers: MaskOrFn, stacked: MaskOrFn, order: Sequence[str] | None, alpha: float
    ) -> "Selection":
        paths, leaves = zip(*jax.tree_util.tree_flatten_with_path(params)[0]) if jax.tree.leaves(params) else ((), ())
        names = tuple(jax.tree_util.keystr(path) for path in paths)
        is_layer = _resolve(layers, params, lambda leaf: jnp.ndim(leaf) >= defaults.MIN_LAYER_NDIM)
        is_stack = _resolve(stacked, params, lambda leaf: False)
        stack = tuple(jnp.shape(leaf)[0] if s else 1 for leaf, s in zip(leaves, is_stack))
        if any(s and not layer for s, layer in zip(is_stack, is_layer)):
            raise ValueError("Only Layca layers can be declared stacked; the stacked mask marks a non-layer leaf.")
        layer_names = [n for n, layer in zip(names, is_layer) if layer]
        forward = layer_names if order is None else list(order)
        if sorted(forward) != sorted(layer_names):
            raise ValueError(f"`order` must list every layer path exactly once; the layers are {layer_names}.")
        counts = dict(zip(names, stack))
        flat = iter(layca_core.alpha_multipliers(max(sum(counts[n] for n in forward), 1), alpha))
        by_name = {n: tuple(next(flat) for _ in range(counts[n])) for n in forward}
        return cls(names, tuple(is_layer), stack, tuple(by_name.get(n) for n in names))


def unstack(leaves: Sequence[Any], selection: Selection) -> list[Any]:
    """Flat leaves with every stacked leaf split into its layers."""
    out = []
    for leaf, count in zip(leaves, selection.stack):
        out.extend([leaf[i] for i in range(count)] if count > 1 else [leaf])
    return out


def restack(pieces: Sequence[Any], selection: Selection) -> list[Any]:
    """Inverse of ``unstack``."""
    out, index = [], 0
    for count in selection.stack:
        if count > 1:
            out.append(jnp.stack(pieces[index : index + count]))
            index += count
        else:
            out.append(pieces[index])
            index += 1
    return out


def flat_multipliers(selection: Selection) -> tuple[float | None, ...]:
    """One multiplier (or None for a non-layer) per unstacked piece, matching ``unstack``."""
    return tuple(m for ms, layer in zip(selection.multipliers, selection.is_layer) for m in (ms if layer else (None,)))


def flat_names(selection: Selection) -> tuple[str, ...]:
    """A name per unstacked piece: stacked layers get ``[i]`` appended."""
    return tuple(
        name + (f"[{i}]" if count > 1 else "")
        for name, count, layer in zip(selection.names, selection.stack, selection.is_layer)
        for i in range(count if layer else 1)
    )

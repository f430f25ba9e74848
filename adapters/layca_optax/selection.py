"""Which leaves of a parameter pytree are Layca layers, in which order, and which hold stacks."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from layca_core import engine, selection

MaskOrFn = Any | Callable[[Any], Any] | None


def _resolve(mask: MaskOrFn, params: Any, default: Callable[[Any], bool]) -> list[bool]:
    """A mask pytree, or a callable returning one (the ``optax.masked`` convention), as flat bools."""
    if mask is None or not jax.tree.leaves(params):
        return [default(leaf) for leaf in jax.tree.leaves(params)]
    tree = mask(params) if callable(mask) else mask
    flags = jax.tree.leaves(tree)
    if len(flags) != len(jax.tree.leaves(params)):
        raise ValueError("A layer/stack mask must have one boolean per parameter leaf, in the same tree structure.")
    return [bool(flag) for flag in flags]


def _is_complex(leaf: Any) -> bool:
    return bool(jnp.issubdtype(jnp.result_type(leaf), jnp.complexfloating))


@dataclass(frozen=True)
class Selection:
    """Per flat leaf: is it a layer, how many layers it stacks (0 if not stacked), its name, and the plan."""

    names: tuple[str, ...]
    is_layer: tuple[bool, ...]
    stack: tuple[int, ...]
    plan: engine.LayerPlan

    @classmethod
    def build(
        cls,
        params: Any,
        layers: MaskOrFn,
        stacked: MaskOrFn,
        order: Sequence[str] | None,
        alpha: Any,
        include: Sequence[str] = (),
    ) -> "Selection":
        names = tuple(name for name, _ in named_leaves(params))
        leaves = jax.tree.leaves(params)
        defaults = iter(default_roles(params, include) if layers is None else ())
        is_layer = _resolve(layers, params, lambda leaf: next(defaults).is_layer)
        is_stack = _resolve(stacked, params, lambda leaf: False)
        stack = tuple(jnp.shape(leaf)[0] if s else 0 for leaf, s in zip(leaves, is_stack))
        complex_layers = [n for n, leaf, layer in zip(names, leaves, is_layer) if layer and _is_complex(leaf)]
        if complex_layers:
            raise ValueError(
                f"Layca rotates real layers only; {', '.join(complex_layers)} is complex: leave it out of `layers` "
                "(complex leaves that are not layers take the base step)."
            )
        if any(s and not layer for s, layer in zip(is_stack, is_layer)):
            raise ValueError("Only Layca layers can be declared stacked; the stacked mask marks a non-layer leaf.")
        layer_names = [n for n, layer in zip(names, is_layer) if layer]
        forward = layer_names if order is None or not leaves else list(order)
        if sorted(forward) != sorted(layer_names):
            raise ValueError(f"`order` must list every layer path exactly once; the layers are {layer_names}.")
        index = {n: i for i, n in enumerate(names)}
        plan = engine.LayerPlan.from_flags(is_layer, alpha, stack=stack, order=[index[n] for n in forward])
        return cls(names, tuple(is_layer), stack, plan)

    @property
    def stacked(self) -> tuple[bool, ...]:
        return tuple(count > 0 for count in self.stack)


def named_leaves(params: Any) -> list[tuple[str, Any]]:
    """Each leaf with its path (``jax.tree_util.keystr``), in tree-flatten order."""
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]]


def default_roles(params: Any, include: Sequence[str] = ()) -> list[selection.Role]:
    """Each leaf's default role, by its path and shape (``layca_core.selection.default_role``)."""
    return [selection.default_role(n, tuple(jnp.shape(leaf)), include=include) for n, leaf in named_leaves(params)]


def describe(params: Any, *, layers: MaskOrFn = None, include: Sequence[str] = (), freeze_others: bool = False) -> str:
    """A table of every leaf of ``params`` with its role (layer, other, or frozen under ``freeze_others``) and the
    reason, as ``layca_optax.layca(layers=..., include=...)`` decides it (``docs/selection.md``).

    Example:
        >>> params = {"embed": {"embedding": jnp.ones((10, 4))}, "conv": {"kernel": jnp.ones((3, 3, 4, 8)),
        ...           "bias": jnp.ones((8, 1, 1))}}
        >>> print(describe(params))  # doctest: +NORMALIZE_WHITESPACE
        name                    shape         role    reason
        ['conv']['bias']        (8, 1, 1)     other   a bias (named 'bias')
        ['conv']['kernel']      (3, 3, 4, 8)  layer   a weight tensor (4 dimensions)
        ['embed']['embedding']  (10, 4)       other   an embedding table (named 'embedding')
        1 layer, 2 other, 0 frozen
    """
    roles = default_roles(params, include)
    if layers is not None:
        flags = _resolve(layers, params, lambda leaf: False)
        roles = [selection.Role(selection.LAYER if f else selection.OTHER, "chosen by layers=") for f in flags]
    if freeze_others:
        roles = [r if r.is_layer else selection.frozen(f"{r.reason}; freeze_others") for r in roles]
    return selection.format_roles([(n, tuple(jnp.shape(x)), r) for (n, x), r in zip(named_leaves(params), roles)])


def unstack(leaves: Sequence[Any], selection: Selection) -> list[Any]:
    """Flat leaves with every stacked leaf split into its layers."""
    out = []
    for leaf, count in zip(leaves, selection.stack):
        out.extend([leaf[i] for i in range(count)] if count else [leaf])
    return out


def flat_multipliers(selection: Selection) -> tuple[float | None, ...]:
    """One multiplier (or None for a non-layer) per unstacked piece, matching ``unstack``."""
    return tuple(m for ms, count in zip(selection.plan.multipliers, selection.stack) for m in (ms if count else (ms,)))


def flat_names(selection: Selection) -> tuple[str, ...]:
    """A name per unstacked piece: stacked layers get ``[i]`` appended."""
    return tuple(
        name + (f"[{i}]" if count else "")
        for name, count in zip(selection.names, selection.stack)
        for i in range(count or 1)
    )

"""Layca's Optax state: its base direction's state as params-shaped trees, the initial norms as one vector.

Every array shaped like a parameter sits in a tree shaped like the parameters (one per field of the
base state), as in Optax's own states, so ``optax.tree.map_params`` reaches each of them; per-step
scalars shared by all leaves (Adam's count) and the vector of the layers' reference norms (read at the
first update, ``layca_optax.norms``) are not params.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from layca_core.directions import BaseDirection
from layca_optax.selection import Selection


class ScaleByLaycaState(NamedTuple):
    count: jax.Array
    init_norms: jax.Array  # one reference norm per layer (per slice of a stacked leaf), in tree-flatten order;
    # 0 until the first update reads it from the parameters (layca_optax.norms)


class LaycaState(NamedTuple):
    count: jax.Array
    init_norms: jax.Array
    base_state: Any  # the base direction's state; each per-parameter field a params-shaped tree


def norms_per_leaf(vector: jax.Array, selection: Selection) -> list[Any]:
    """The engine's ``init_norms``: per leaf a layer's norm, a stacked leaf's vector of norms, or None."""
    out, offset = [], 0
    for layer, count in zip(selection.is_layer, selection.stack):
        out.append(None if not layer else (vector[offset : offset + count] if count else vector[offset]))
        offset += max(count, 1) if layer else 0
    return out


class BaseLayout:
    """How a base direction's per-leaf states are kept: a params-shaped tree per field, except the fields
    that are one scalar per leaf (Adam's count), kept once for all leaves."""

    def __init__(self, direction: BaseDirection) -> None:
        self.direction = direction
        self.template = jax.eval_shape(direction.init, jax.ShapeDtypeStruct((2,), jnp.float32))
        self.shared = tuple(field.shape == () for field in self.template)
        self._shapes: dict[tuple, tuple] = {}

    def shapes(self, like: Any) -> tuple:
        """The shapes of the params-shaped fields of the state of a leaf like ``like`` (its own shape, or 0-d where
        the base keeps nothing for such a leaf: muon's second moment of a matrix)."""
        key = (jnp.shape(like), jnp.dtype(getattr(like, "dtype", None) or jnp.result_type(like)))
        if key not in self._shapes:
            state = jax.eval_shape(self.direction.init, jax.ShapeDtypeStruct(*key))
            self._shapes[key] = tuple(f.shape for f, shared in zip(state, self.shared) if not shared)
        return self._shapes[key]

    def pack(self, states: Sequence[Any], params: Any, updated: Sequence[int] = ()) -> Any:
        """Per-leaf states -> one state of params-shaped trees; a shared field is read from the first
        ``updated`` leaf (a frozen leaf keeps the old value), else leaf 0."""
        treedef = jax.tree.structure(params)
        source = updated[0] if updated else (0 if states else None)
        fields = [
            (jnp.zeros((), like.dtype) if source is None else states[source][k])
            if shared
            else jax.tree.unflatten(treedef, [state[k] for state in states])
            for k, (like, shared) in enumerate(zip(self.template, self.shared))
        ]
        return type(self.template)(*fields)

    def unpack(self, base_state: Any, params: Any) -> list[Any]:
        """One base state per flat leaf, from ``pack``'s form."""
        count = len(jax.tree.leaves(params))
        columns = [
            [field] * count if shared else jax.tree.leaves(field) for field, shared in zip(base_state, self.shared)
        ]
        return [type(base_state)(*row) for row in zip(*columns)] if columns else [type(base_state)()] * count

    def params_shaped(self, base_state: Any) -> list[Any]:
        """The fields that are params-shaped trees."""
        return [field for field, shared in zip(base_state, self.shared) if not shared]


def check_matches(
    params: Any, init_norms: jax.Array, selection: Selection, trees: Sequence[Any] = (), base: BaseLayout | None = None
) -> None:
    """Refuse a state built for other parameters: another layer count, tree structure or leaf shape (``base``'s
    shapes for the leaves of ``trees``, its params-shaped fields)."""
    layers = sum(max(count, 1) for layer, count in zip(selection.is_layer, selection.stack) if layer)
    advice = "build it with init(params) for these parameters."
    if init_norms.shape != (layers,):
        raise ValueError(
            f"This Layca state holds {init_norms.shape[0]} initial layer norms but the parameters have {layers} "
            f"layers: the state was built for other parameters; {advice}"
        )
    structure = jax.tree.structure(params)
    for k, tree in enumerate(trees):
        if jax.tree.structure(tree) != structure:
            raise ValueError(f"This Layca state's tree structure differs from the parameters'; {advice}")
        for name, leaf, like in zip(selection.names, jax.tree.leaves(tree), jax.tree.leaves(params)):
            if jnp.shape(leaf) != (jnp.shape(like) if base is None else base.shapes(like)[k]):
                raise ValueError(
                    f"This Layca state holds shape {jnp.shape(leaf)} for {name}, whose shape is {jnp.shape(like)}; "
                    f"{advice}"
                )

"""Each layer's reference norm: read from the parameters at the first update, kept in the state after.

``init`` stores zeros (a norm not read yet); an update reads every zero entry from the parameters it is
given and keeps the others, so ``state = tx.init(random_params)`` followed by restored or pretrained
parameters keeps the restored norms, and a restored state keeps its own. ``reset_layer_norms`` zeroes
them again to re-anchor a run. Under ``jax.jit`` the read is a ``lax.cond`` on the stored vector: after
the first step the only work is one comparison per layer. All-zero (or overflowing) layers are refused by name
where the weights are concrete (``init``, an eager update), and under ``jax.jit`` by a host check of the norms the
read branch computes (``layca_jax.host_checked``: a pure callback, which costs a step nothing once the norms are
stored), as ``layca_keras`` does; one set to zero after its norm is stored is refused by the step itself (the XLA
executor, on the layers ``transform`` names with ``layca_jax.named_layers``).
"""

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import layca_core
from layca_core.validation import check_nonzero_norms
from layca_jax import host_checked
from layca_optax.selection import Selection, flat_multipliers, flat_names
from layca_optax.state import LaycaState, ScaleByLaycaState

EXCLUDE = (
    "Leave it out of the layers with `layers=` (a mask pytree, or a callable on the params tree returning one), "
    "e.g. `layers=lambda p: jax.tree_util.tree_map_with_path(lambda k, x: x.ndim >= 2 and 'lora_b' not in "
    "jax.tree_util.keystr(k), p)`; see docs/lora.md."
)
"""How an Optax user leaves a zero-started parameter out of the layers (``check_nonzero_norms``'s ``exclude``)."""


def layer_norms(params: Any, selection: Selection) -> jax.Array:
    """Every layer's norm (per slice when stacked) as one vector, in tree-flatten order."""
    norms = [
        jnp.reshape(jax.vmap(layca_core.initial_norm)(leaf) if count else layca_core.initial_norm(leaf), (-1,))
        for leaf, layer, count in zip(jax.tree.leaves(params), selection.is_layer, selection.stack)
        if layer
    ]
    return jnp.concatenate(norms) if norms else jnp.zeros((0,), jnp.float32)


def _is_traced(*trees: Any) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(trees))


def _refuse_zero(norms: Any, selection: Selection) -> None:
    """Refuse the layers whose norms are not all positive and finite (``norms``: the vector, with a batch axis in
    front under ``jax.vmap``)."""
    if not np.size(norms):
        return
    names = tuple(n for n, m in zip(flat_names(selection), flat_multipliers(selection)) if m is not None)
    columns = np.reshape(np.asarray(norms), (-1, np.shape(norms)[-1])).T
    check_nonzero_norms([float(c.max()) if (c > 0).all() else 0.0 for c in columns], names, exclude=EXCLUDE)


def unread_norms(params: Any, selection: Selection) -> jax.Array:
    """``init``'s vector: zeros of ``layer_norms``'s shape and dtype (all-zero layers refused, if concrete)."""
    if not _is_traced(params):
        _refuse_zero(layer_norms(params, selection), selection)
    shape = jax.eval_shape(partial(layer_norms, selection=selection), params)
    return jnp.zeros(shape.shape, shape.dtype)


def _read(stored: jax.Array, params: Any, selection: Selection) -> jax.Array:
    return jnp.where(stored > 0, stored, layer_norms(params, selection))


def _read_checked(stored: jax.Array, params: Any, selection: Selection) -> jax.Array:
    return host_checked(_read(stored, params, selection), partial(_refuse_zero, selection=selection))


def reference_norms(stored: jax.Array, params: Any, selection: Selection) -> jax.Array:
    """The norms this update turns the layers with: ``stored``, its unread (zero) entries read from ``params``
    (all-zero layers refused, on the host under ``jax.jit``)."""
    if _is_traced(stored, params):
        read = partial(_read_checked, selection=selection)
        return jax.lax.cond(jnp.all(stored > 0), lambda s, p: s, read, stored, params)
    if bool(jnp.all(stored > 0)):
        return stored
    norms = _read(stored, params, selection)
    _refuse_zero(norms, selection)
    return norms


def reset_layer_norms(state: Any) -> Any:
    """``state`` with every Layca state's reference norms unread: the next update reads them from its params.

    Use it to re-anchor a run on new weights (after loading them mid-run, or to restart the norms after
    surgery); it works on any state holding Layca's (``optax.chain``, ``inject_hyperparams``,
    ``masked``, ``MultiSteps``), and inside ``jax.jit``. The step count (and a schedule) is kept.

    Example:
        >>> import optax, layca_optax
        >>> params = {"w": jnp.eye(2)}
        >>> optimizer = optax.chain(optax.clip(1.0), layca_optax.layca(0.1))
        >>> state = optimizer.init(params)
        >>> _, state = optimizer.update({"w": jnp.ones((2, 2))}, state, params)
        >>> state[1].init_norms.tolist()
        [1.4142135381698608]
        >>> reset_layer_norms(state)[1].init_norms.tolist()
        [0.0]
    """
    found = []

    def reset(node: Any) -> Any:
        if isinstance(node, (LaycaState, ScaleByLaycaState)):
            found.append(node)
            return node._replace(init_norms=jnp.zeros_like(node.init_norms))
        return node

    is_layca = lambda node: isinstance(node, (LaycaState, ScaleByLaycaState))
    new = jax.tree.map(reset, state, is_leaf=is_layca)
    if not found:
        raise ValueError("reset_layer_norms: this optimizer state holds no LaycaState or ScaleByLaycaState.")
    return new

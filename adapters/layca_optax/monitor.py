"""Layer rotation of a JAX parameter pytree: a jittable metric and a small recorder."""

from typing import Any

import jax
import jax.numpy as jnp

import layca_core
from layca_optax.selection import MaskOrFn, Selection, flat_multipliers, flat_names, unstack


def _layer_pieces(params: Any, selection: Selection) -> list[tuple[str, Any]]:
    pieces = unstack(jax.tree.leaves(params), selection)
    return [(n, p) for n, p, m in zip(flat_names(selection), pieces, flat_multipliers(selection)) if m is not None]


def layer_rotations(
    params: Any, init_params: Any, layers: MaskOrFn = None, stacked: MaskOrFn = None
) -> dict[str, jax.Array]:
    """Each layer's cosine distance to its initial weights, by tree path (jittable).

    Example:
        >>> params = {"w": jnp.eye(2)}
        >>> round(float(layer_rotations({"w": -jnp.eye(2)}, params)["['w']"]), 6)
        2.0
    """
    selection = Selection.build(params, layers, stacked, None, 0.0)
    now, init = _layer_pieces(params, selection), _layer_pieces(init_params, selection)
    return {name: layca_core.cosine_distance(w, w0, xp=jnp) for (name, w), (_, w0) in zip(now, init)}


class RotationRecorder:
    """Keep the initial parameters; record layer rotations into a ``layca_core.RotationHistory``.

    Distances are computed in float64 on the host (NumPy) from the device arrays.
    """

    def __init__(self, init_params: Any, layers: MaskOrFn = None, stacked: MaskOrFn = None) -> None:
        self.layers, self.stacked = layers, stacked
        self.selection = Selection.build(init_params, layers, stacked, None, 0.0)
        self.initial = [jax.device_get(p) for _, p in _layer_pieces(init_params, self.selection)]
        self.history = layca_core.RotationHistory(tuple(n for n, _ in _layer_pieces(init_params, self.selection)))

    def record(self, params: Any, step: int, epoch: float | None = None) -> None:
        import numpy as np

        now = [np.asarray(jax.device_get(p), dtype=np.float64) for _, p in _layer_pieces(params, self.selection)]
        distances = [
            layca_core.cosine_distance(w, np.asarray(w0, dtype=np.float64)) for w, w0 in zip(now, self.initial)
        ]
        self.history.record(step, step if epoch is None else epoch, distances)

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        return layca_core.plot_layer_rotation(self.history, ax=ax, title=title)

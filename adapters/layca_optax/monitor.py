"""Layer rotation of a JAX parameter pytree: a jittable metric and a small monitor."""

from typing import Any

import jax
import jax.numpy as jnp

import layca_core
from layca_core.monitor_state import monitor_state, split_monitor_state
from layca_optax.selection import MaskOrFn, Selection, flat_multipliers, flat_names, unstack


def _layer_pieces(params: Any, selection: Selection) -> list[tuple[str, Any]]:
    pieces = unstack(jax.tree.leaves(params), selection)
    return [(n, p) for n, p, m in zip(flat_names(selection), pieces, flat_multipliers(selection)) if m is not None]


def cosine_distances(
    params: Any, init_params: Any, layers: MaskOrFn = None, stacked: MaskOrFn = None
) -> dict[str, jax.Array]:
    """Each layer's cosine distance to its initial weights, by tree path (jittable).

    Example:
        >>> params = {"w": jnp.eye(2)}
        >>> round(float(cosine_distances({"w": -jnp.eye(2)}, params)["['w']"]), 6)
        2.0
    """
    selection = Selection.build(params, layers, stacked, None, 0.0)
    now, init = _layer_pieces(params, selection), _layer_pieces(init_params, selection)
    return {name: layca_core.cosine_distance(w, w0, xp=jnp) for (name, w), (_, w0) in zip(now, init)}


class RotationMonitor:
    """Keep the initial parameters; record layer rotations into a ``layca_core.RotationHistory``.

    Distances are computed in float64 on the host (NumPy) from the device arrays.
    ``state_dict()`` is a flat dict of NumPy arrays and the history's JSON text, which ``pickle``,
    ``numpy.savez`` and checkpoint libraries that take a dict of arrays save; after a resume, build the
    monitor from the restored parameters and ``load_state_dict`` it, and the curves continue from the
    first initialization (``docs/checkpointing-optax.md`` has a crash-and-resume script).

    Layers are ``layca_optax.layca``'s default ones (``layca_optax.describe(params)``: not embedding tables,
    biases or normalisation parameters) unless ``layers`` (a mask pytree or a callable, as in
    ``layca_optax.layca``) says otherwise (``docs/selection.md``).

    Example:
        >>> monitor = RotationMonitor({"w": jnp.eye(2)})
        >>> monitor.record({"w": jnp.ones((2, 2))}, step=1)
        >>> restored = RotationMonitor({"w": jnp.ones((2, 2))})
        >>> restored.load_state_dict(monitor.state_dict())
        >>> restored.history == monitor.history
        True
    """

    def __init__(self, init_params: Any, layers: MaskOrFn = None, stacked: MaskOrFn = None) -> None:
        self.layers, self.stacked = layers, stacked
        self.selection = Selection.build(init_params, layers, stacked, None, 0.0)
        self.initial = [jax.device_get(p) for _, p in _layer_pieces(init_params, self.selection)]
        self.history = layca_core.RotationHistory(tuple(n for n, _ in _layer_pieces(init_params, self.selection)))

    def distances(self, params: Any) -> list[float]:
        """Each layer's cosine distance from its initial weights to ``params``, in float64 on the host."""
        import numpy as np

        now = [np.asarray(jax.device_get(p), dtype=np.float64) for _, p in _layer_pieces(params, self.selection)]
        return [
            float(layca_core.cosine_distance(w, np.asarray(w0, dtype=np.float64))) for w, w0 in zip(now, self.initial)
        ]

    def record(self, params: Any, step: int, epoch: float | None = None) -> None:
        """Append the distances of ``params`` to ``history``."""
        self.history.record(step, step if epoch is None else epoch, self.distances(params))

    def state_dict(self) -> dict[str, Any]:
        """The initial layers (NumPy arrays) and the history, as ``{"history": ..., "initial/<path>": ...}``."""
        import numpy as np

        return monitor_state(self.history, [np.array(w0) for w0 in self.initial])

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` (also as loaded by ``numpy.load``): later records extend its curves."""
        history, initial = split_monitor_state(state, self.history.layer_names)
        for name, w0, old in zip(history.layer_names, initial, self.initial):
            if w0.shape != old.shape:
                raise ValueError(f"state's initial {name} has shape {w0.shape}, not {old.shape}.")
        self.initial, self.history = list(initial), history

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        """The layer rotation curves recorded so far (``layca_core.plot_layer_rotation``)."""
        return layca_core.plot_layer_rotation(self.history, ax=ax, title=title)

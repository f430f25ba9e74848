"""``LayerRotationCurves``: a Keras callback recording each layer's cosine distance to its initial value."""

from typing import Any

import keras
import numpy as np

import layca_core
from layca_core import defaults
from layca_keras.variables import LayerSelector, selects


class LayerRotationCurves(keras.callbacks.Callback):
    """Snapshot the layers at ``on_train_begin``; record their rotation per epoch (and every N batches).

    Values go into ``logs`` as ``rotation/<variable path>``, so they reach ``History``,
    ``CSVLogger`` and ``TensorBoard``; ``history`` is the core's record (float64 distances).

    Example:
        >>> curves = LayerRotationCurves(every_n_batches=None)
        >>> # model.fit(x, y, epochs=10, callbacks=[curves]); curves.plot()
    """

    def __init__(self, layers: LayerSelector = None, every_n_batches: int | None = None) -> None:
        super().__init__()
        if every_n_batches is not None and every_n_batches < 1:
            raise ValueError(f"every_n_batches must be a positive integer or None; got {every_n_batches!r}.")
        self.layers, self.every_n_batches = layers, every_n_batches
        self.history: layca_core.RotationHistory | None = None
        self._steps_per_epoch: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._indices = [
            i
            for i, v in enumerate(self.model.trainable_variables)
            if selects(self.layers, v, len(v.shape) >= defaults.MIN_LAYER_NDIM)
        ]
        if not self._indices:
            raise ValueError(
                "LayerRotationCurves found no layer to monitor; check `layers` against model.trainable_variables."
            )
        self._initial = [self._numpy(v) for v in self._layers()]
        self.history = layca_core.RotationHistory(tuple(v.path for v in self._layers()))
        self._step, self._epoch = 0, 0
        self.history.record(0, 0.0, [0.0] * len(self._indices))

    def _layers(self) -> list[Any]:
        """The monitored variables, through ``self.model`` (which syncs JAX state mid-epoch)."""
        variables = self.model.trainable_variables
        return [variables[i] for i in self._indices]

    @staticmethod
    def _numpy(variable: Any) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)

    def distances(self) -> list[float]:
        return [float(layca_core.cosine_distance(self._numpy(v), w0)) for v, w0 in zip(self._layers(), self._initial)]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += 1
        if self.every_n_batches and self._step % self.every_n_batches == 0:
            self.history.record(
                self._step, self._epoch + (batch + 1) / max(self.params.get("steps") or batch + 1, 1), self.distances()
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        distances = self.distances()
        self.history.record(self._step, float(self._epoch), distances)
        if logs is not None:
            logs.update({f"rotation/{name}": d for name, d in zip(self.history.layer_names, distances)})

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        return layca_core.plot_layer_rotation(self.history, ax=ax, title=title)

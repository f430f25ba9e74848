"""``RotationMonitor``: a Keras callback recording each layer's cosine distance to its initial value."""

import warnings
from typing import Any

import keras
import numpy as np

import layca_core
from layca_core.monitor_state import monitor_state, split_monitor_state
from layca_keras.backup import MonitorBackup
from layca_keras.variables import LayerSelector, selects


class RotationMonitor(keras.callbacks.Callback):
    """Snapshot the layers when the first ``fit`` starts; record their rotation per epoch (and every N batches).

    Values go into each epoch's ``logs`` as ``rotation/<variable path>``: ``History`` receives them
    wherever the monitor is listed (Keras appends it after your callbacks), ``CSVLogger`` and
    ``TensorBoard`` when listed after the monitor (Keras calls callbacks in list order, with one shared
    ``logs`` dict, and has no public way to run a callback first). ``history`` is the core's record
    (float64 distances); ``record``, ``distances``, ``plot``, ``state_dict`` and ``load_state_dict`` are
    those of ``layca_torch.RotationMonitor`` and ``layca_optax.RotationMonitor``.

    Later ``fit`` calls continue the curves: the snapshot is kept and epochs keep counting. After a crash,
    with ``keras.callbacks.BackupAndRestore``, pass it (or its ``backup_dir``) as ``backup``: the monitor
    keeps its state there (``layca_keras.backup.STATE_FILE``, written at every epoch end), and a new
    monitor in a new process continues the curves exactly, wherever either callback is listed. A fit that
    starts at a later epoch with no saved state warns: its curves would measure rotation from the weights
    it starts from. After ``model.save`` and a reload, save ``state_dict()`` beside the model
    (``numpy.savez(path, **state)``) and ``load_state_dict`` it into a new callback before its first
    ``fit``. The snapshot needs the model built when ``fit`` starts: start it with ``keras.Input``
    (TensorFlow builds a model without one inside the first step).

    Layers are ``layca_keras.Layca``'s default ones (``layca_keras.describe(model)``: not ``Embedding`` tables,
    biases or normalization parameters) unless ``layers`` (a regex on ``variable.path`` or a callable) says
    otherwise (``docs/selection.md``).

    Example:
        >>> monitor = RotationMonitor(every_n_batches=None)
        >>> # model.fit(x, y, epochs=10, callbacks=[monitor]); monitor.plot()
    """

    def __init__(self, layers: LayerSelector = None, every_n_batches: int | None = None, backup: Any = None) -> None:
        super().__init__()
        if every_n_batches is not None and every_n_batches < 1:
            raise ValueError(f"every_n_batches must be a positive integer or None; got {every_n_batches!r}.")
        self.layers, self.every_n_batches = layers, every_n_batches
        directory = getattr(backup, "backup_dir", backup)
        self.backup = None if directory is None else MonitorBackup(directory)
        self.history: layca_core.RotationHistory | None = None
        self._initial: list[np.ndarray] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.model.built:
            raise ValueError(
                "RotationMonitor needs the model's weights before the first step; build the model first "
                "(start it with keras.Input, or call model.build(input_shape)): TensorFlow would build it inside that step."
            )
        self._select()
        state = None if self.history is not None or self.backup is None else self.backup.load()
        if state is not None:
            self.load_state_dict(state)
        self._starting = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """The first epoch of a ``fit``, once every callback's ``on_train_begin`` has run (weights restored)."""
        self._keras_epoch = epoch
        if not self._starting:
            return
        self._starting = False
        paths = tuple(v.path for v in self._layers())
        if self.history is None:
            if epoch > 0:
                warnings.warn(
                    f"RotationMonitor starts at epoch {epoch} with no saved state, so its curves measure rotation "
                    "from the weights now, not from the initialization. With BackupAndRestore, pass it as "
                    "RotationMonitor(backup=...) to continue the curves after a resume.",
                    stacklevel=2,
                )
            self._initial = [self._numpy(v) for v in self._layers()]
            self.history = layca_core.RotationHistory(paths)
            self.history.record(epoch * (self.params.get("steps") or 0), float(epoch), [0.0] * len(paths))
        self._check_follows(paths)
        if self.backup is not None and self.backup.loaded:
            self.history = self.backup.align(self.history, epoch, self.distances)
        elif self.backup is not None:
            self.backup.start(epoch, len(self.history.steps))
        self._step, self._epoch = self.history.steps[-1], self.history.epochs[-1]

    def _select(self) -> None:
        self._indices = [i for i, v in enumerate(self.model.trainable_variables) if selects(self.layers, v)]
        if not self._indices:
            raise ValueError(
                "RotationMonitor found no layer to monitor; check `layers` against model.trainable_variables."
            )

    def _check_follows(self, paths: tuple[str, ...]) -> None:
        """The model's layers must match the snapshot in number and shapes (paths may change on reload)."""
        shapes = [tuple(v.shape) for v in self._layers()]
        if shapes != [w0.shape for w0 in self._initial]:
            raise ValueError(
                f"RotationMonitor follows the layers {list(self.history.layer_names)} (from an earlier fit or "
                f"load_state_dict), but this model's are {list(paths)}; use a new callback for another model."
            )

    def _layers(self) -> list[Any]:
        """The monitored variables, through ``self.model`` (which syncs JAX state mid-epoch)."""
        variables = self.model.trainable_variables
        return [variables[i] for i in self._indices]

    @staticmethod
    def _numpy(variable: Any) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)

    def distances(self) -> list[float]:
        """Each layer's cosine distance to its snapshot, now."""
        return [float(layca_core.cosine_distance(self._numpy(v), w0)) for v, w0 in zip(self._layers(), self._initial)]

    def record(self, step: int, epoch: float | None = None) -> None:
        """Append the current distances to ``history`` (after the first ``fit`` has started, as ``fit`` does)."""
        if self.history is None or self.model is None:
            raise ValueError("RotationMonitor has no snapshot before its first fit; call record() after fit() starts.")
        if not hasattr(self, "_indices"):
            self._select()
        self.history.record(step, step if epoch is None else epoch, self.distances())

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += 1
        steps = self.params.get("steps")
        if self.every_n_batches and self._step % self.every_n_batches == 0:
            self.record(self._step, self._epoch + (batch + 1) / max(steps or batch + 1, 1))
        if self.backup is not None and steps and batch + 1 == steps:
            self.backup.save(self.state_dict(), self._keras_epoch + 1, end=(self._step, self._epoch + 1.0))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch += 1.0
        distances = self.distances()
        self.history.record(self._step, self._epoch, distances)
        if logs is not None:
            logs.update({f"rotation/{name}": d for name, d in zip(self.history.layer_names, distances)})
        if self.backup is not None:
            self.backup.save(self.state_dict(), epoch + 1)

    def state_dict(self) -> dict[str, Any]:
        """The snapshot (float64 NumPy arrays) and the history; ``numpy.savez`` and ``pickle`` save it."""
        if self.history is None:
            raise ValueError("RotationMonitor has no state before its first fit; call state_dict() after fit().")
        return monitor_state(self.history, [w0.copy() for w0 in self._initial])

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` before ``fit``: the curves continue from the saved snapshot and epoch."""
        self.history, initial = split_monitor_state(state)
        self._initial = [np.asarray(w0, dtype=np.float64) for w0 in initial]

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        """The layer rotation curves recorded so far (``layca_core.plot_layer_rotation``)."""
        return layca_core.plot_layer_rotation(self.history, ax=ax, title=title)

"""A ``RotationMonitor``'s state beside a ``keras.callbacks.BackupAndRestore`` backup.

The backup and the monitor's file are written by two callbacks, so a crash can fall between them.
The file marks, for each epoch of the fit, how many history rows its end left; it is written at the
end of each epoch's last batch (before any callback's ``on_epoch_end``, so it is never behind the
backup) and again at the epoch end. On resume, ``align`` cuts the rows past the epoch the backup
resumes at, or adds that epoch's end row from the restored weights.
"""

import json
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import layca_core

STATE_FILE = "layca_rotation_monitor.npz"
"""The monitor's state in the backup directory."""


class MonitorBackup:
    """The monitor's file in ``directory``: ``save`` after recording, ``load`` and ``align`` on resume."""

    def __init__(self, directory: Any) -> None:
        self.path = os.path.join(os.fspath(directory), STATE_FILE)
        self.ends: dict[int, int] = {}
        self.pending: tuple[int, int, float] | None = None
        self.loaded = False

    def load(self) -> dict[str, Any] | None:
        """The saved ``state_dict()``, or ``None`` without a file."""
        if not os.path.exists(self.path):
            return None
        state = dict(np.load(self.path))
        marks = json.loads(str(state.pop("marks")))
        self.ends = {int(done): rows for done, rows in marks["ends"]}
        self.pending, self.loaded = (None if marks["pending"] is None else tuple(marks["pending"])), True
        return state

    def start(self, epoch: int, rows: int, keep: bool = False) -> None:
        """A fit starts at ``epoch`` with ``rows`` history rows so far (``keep``: the marks of earlier epochs)."""
        self.ends, self.pending = {**(self.ends if keep else {}), epoch: rows}, None

    def save(self, state: dict[str, Any], epochs_done: int, end: tuple[int, float] | None = None) -> None:
        """Write ``state`` atomically once ``epochs_done`` epochs of the fit are done: at the epoch's end, or
        (``end``: the step and epoch of its end row, still to record) at the end of its last batch."""
        if end is None:
            self.ends[epochs_done], self.pending = len(json.loads(str(state["history"]))["steps"]), None
        else:
            self.pending = (epochs_done, *end)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        partial = self.path + ".partial.npz"
        marks = json.dumps({"ends": sorted(self.ends.items()), "pending": self.pending})
        np.savez(partial, **state, marks=marks)
        os.replace(partial, self.path)

    def align(
        self, history: layca_core.RotationHistory, epoch: int, distances: Callable[[], list[float]]
    ) -> layca_core.RotationHistory:
        """The saved history cut or completed to end where the backup resumes, at ``epoch``."""
        self.loaded = False
        if epoch in self.ends:
            kept = layca_core.RotationHistory(history.layer_names)
            for row in list(zip(history.steps, history.epochs, history.distances))[: self.ends[epoch]]:
                kept.record(*row)
            history = kept
        elif self.pending is not None and self.pending[0] == epoch:
            history.record(self.pending[1], self.pending[2], distances())
        else:
            warnings.warn(
                f"RotationMonitor's saved curves do not reach epoch {epoch}, where this fit resumes; "
                "they continue from their last row.",
                stacklevel=3,
            )
        self.ends = {done: rows for done, rows in self.ends.items() if done < epoch}
        self.start(epoch, len(history.steps), keep=True)
        return history

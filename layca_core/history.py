"""A framework-free record of layer rotation curves, saved as JSON or CSV.

Example:
    >>> history = RotationHistory(layer_names=("conv1", "fc"))
    >>> history.record(step=0, epoch=0.0, distances=[0.0, 0.0])
    >>> history.record(step=100, epoch=1.0, distances=[0.31, 0.12])
    >>> RotationHistory.from_json(history.to_json()) == history
    True
"""

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from layca_core.validation import check_same_length


@dataclass
class RotationHistory:
    """Per-layer cosine distances to initialization, one row per recording."""

    layer_names: tuple[str, ...]
    steps: list[int] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    distances: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.layer_names = tuple(self.layer_names)

    def record(self, step: int, epoch: float, distances: Sequence[Any]) -> None:
        """Append one row; ``distances`` holds one number (or 0-d array) per layer."""
        check_same_length(layer_names=self.layer_names, distances=distances)
        self.steps.append(int(step))
        self.epochs.append(float(epoch))
        self.distances.append([float(d) for d in distances])

    def curve(self, layer: str) -> list[float]:
        """The rotation curve of one layer, by name."""
        return [row[self.layer_names.index(layer)] for row in self.distances]

    def to_json(self) -> str:
        return json.dumps(
            {
                "layer_names": list(self.layer_names),
                "steps": self.steps,
                "epochs": self.epochs,
                "distances": self.distances,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "RotationHistory":
        data = json.loads(text)
        return cls(tuple(data["layer_names"]), data["steps"], data["epochs"], data["distances"])

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["step", "epoch", *self.layer_names])
        for step, epoch, row in zip(self.steps, self.epochs, self.distances):
            writer.writerow([step, repr(epoch), *map(repr, row)])
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "RotationHistory":
        header, *rows = list(csv.reader(io.StringIO(text)))
        history = cls(tuple(header[2:]))
        for step, epoch, *row in rows:
            history.record(int(step), float(epoch), [float(d) for d in row])
        return history

    def save(self, path: str) -> None:
        """Write JSON or CSV, by the path's suffix."""
        with open(path, "w") as file:
            file.write(self.to_csv() if str(path).endswith(".csv") else self.to_json())

    @classmethod
    def load(cls, path: str) -> "RotationHistory":
        with open(path) as file:
            text = file.read()
        return cls.from_csv(text) if str(path).endswith(".csv") else cls.from_json(text)

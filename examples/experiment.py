"""What the experiments share across frameworks: methods, the batch and learning-rate plan, results.

Each framework's trainer (``examples/trainers``) turns a ``Method`` into its own optimizer and
follows the same ``Plan``: the same batches in the same order and the same learning-rate
multiplier at every step, from the same initial kernels (``examples/networks.py``).
"""

import argparse
import importlib
import os
import sys
from dataclasses import asdict, dataclass, field
from types import ModuleType

import numpy as np
from tqdm import tqdm

import layca_core

FRAMEWORKS = ("torch", "jax", "keras", "keras-tensorflow", "keras-jax", "keras-torch")


@dataclass(frozen=True)
class Method:
    """An optimizer in framework-neutral terms: ``sgd`` (coupled weight decay, as torch's), ``adam``, ``adamw``,
    ``muon`` (matrices of hidden layers; AdamW, same rate and decay, on the rest) or ``layca`` (``variant``
    ``"layca"`` or ``"hyperball"``)."""

    name: str
    optimizer: str
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    base: str = "sgd"
    alpha: float = 0.0
    variant: str = "layca"

    def as_dict(self) -> dict:
        """Every field, ``variant`` only when set (so the keys of runs stored before it existed stay valid)."""
        fields = asdict(self)
        if fields["variant"] == "layca":
            del fields["variant"]
        return fields


def sgd(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> Method:
    return Method(name, "sgd", lr, momentum=momentum, weight_decay=weight_decay)


def adam(name: str, lr: float = 1e-3) -> Method:
    return Method(name, "adam", lr)


def adamw(name: str, lr: float, weight_decay: float) -> Method:
    return Method(name, "adamw", lr, weight_decay=weight_decay)


def muon(name: str, lr: float, weight_decay: float) -> Method:
    return Method(name, "muon", lr, weight_decay=weight_decay)


def layca(name: str, rate: float, base: str = "sgd", alpha: float = 0.0, variant: str = "layca") -> Method:
    return Method(name, "layca", rate, base=base, alpha=alpha, variant=variant)


@dataclass(frozen=True)
class Plan:
    """The batches of every epoch (index arrays) and the learning-rate multiplier of every step."""

    epochs: list[list[np.ndarray]]
    multipliers: np.ndarray

    @property
    def steps_per_epoch(self) -> int:
        return len(self.epochs[0])


def plan(samples: int, epochs: int, batch_size: int, schedule: layca_core.StepDecay, seed: int = 0) -> Plan:
    """Shuffle once per epoch (NumPy, ``seed``); the multiplier of step s is ``schedule(s / steps_per_epoch)``."""
    rng = np.random.default_rng(seed)
    order = [rng.permutation(samples) for _ in range(epochs)]
    batches = [[perm[i : i + batch_size] for i in range(0, samples, batch_size)] for perm in order]
    steps_per_epoch = len(batches[0])
    multipliers = [schedule(step / steps_per_epoch) for step in range(epochs * steps_per_epoch)]
    return Plan(batches, np.asarray(multipliers, dtype=np.float32))


@dataclass
class Run:
    """One training run: accuracies (evaluation mode), running training accuracy and loss per epoch, rotation, kernels.

    ``epoch_loss`` is the mean training loss over the epoch's batches (Keras's includes its L2 penalty).
    """

    method: str
    test_accuracy: float
    train_accuracy: float
    epoch_accuracy: list[float]
    history: layca_core.RotationHistory
    kernels: list[np.ndarray] = field(repr=False)
    epoch_loss: list[float] = field(default_factory=list)

    @property
    def final_rotation(self) -> dict[str, float]:
        return dict(zip(self.history.layer_names, self.history.distances[-1]))

    def summary(self) -> dict:
        return {
            "method": self.method,
            "test_accuracy": self.test_accuracy,
            "train_accuracy": self.train_accuracy,
            "epoch_accuracy": self.epoch_accuracy,
            "final_rotation": self.final_rotation,
        }


SHOW_PROGRESS = True  # the study runner's worker processes turn the per-epoch bars off


def progress(total: int, description: str) -> tqdm:
    return tqdm(total=total, desc=f"{description:>24}", unit="epoch", leave=True, disable=not SHOW_PROGRESS)


def add_framework_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--framework",
        choices=FRAMEWORKS,
        default="torch",
        help="keras uses KERAS_BACKEND; keras-<backend> sets it (before Keras is imported)",
    )


def trainer(framework: str, kind: str = "trainer") -> ModuleType:
    """The trainer module of ``framework`` (one of ``FRAMEWORKS``), imported now: ``kind`` ``"trainer"`` for the
    classifiers of ``examples.networks``, ``"lm"`` for the language model of ``examples.transformer``."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}; got {framework!r}.")
    name, _, keras_backend = framework.partition("-")
    if keras_backend:
        current = sys.modules.get("keras") and sys.modules["keras"].backend.backend()
        if current and current != keras_backend:
            raise RuntimeError(f"Keras is already running on {current}; start a new process for {framework}.")
        os.environ["KERAS_BACKEND"] = keras_backend
    return importlib.import_module(f"examples.trainers.{name}_{kind}")


def framework_label(framework: str) -> str:
    """``keras`` with its backend spelled out, for titles and file contents."""
    if framework.startswith("keras"):
        import keras

        return f"keras-{keras.backend.backend()}"
    return framework

"""Named, versioned studies: a task and the configurations (method, warmup) trained on it, seed by seed.

Bump a study's ``version`` whenever its task or configurations change: the runner then retrains
the runs it stored under the old version instead of mixing them.
"""

import math
from dataclasses import asdict, dataclass, replace

import layca_core
from examples.experiment import Method, adam, layca, sgd


@dataclass(frozen=True)
class Task:
    """What one run trains: ``network`` names a builder in ``examples.networks``; decays are fractions of ``epochs``."""

    dataset: str = "mnist1d"
    samples: int = 4000
    epochs: int = 100
    network: str = "cnn"
    batch: int = 128
    decays: tuple[float, ...] = (0.7, 0.9)
    factor: float = 0.2

    def schedule(self, warmup_epochs: float = 0.0) -> layca_core.StepDecay:
        milestones = tuple(math.ceil(fraction * self.epochs) for fraction in self.decays)
        return layca_core.StepDecay(self.epochs, milestones, self.factor, warmup_epochs)


@dataclass(frozen=True)
class Config:
    """One trained configuration: a method and its warmup (epochs, linear from 1/10, as in the paper)."""

    method: Method
    warmup_epochs: float = 0.0

    @property
    def name(self) -> str:
        return self.method.name

    def as_dict(self) -> dict:
        return {**asdict(self.method), "warmup_epochs": self.warmup_epochs}


@dataclass(frozen=True)
class Study:
    """A task, its configurations, the smaller task of ``--quick``, and the configurations compared across frameworks.

    ``cross_framework`` (names) and ``cross_seeds`` are what frameworks other than torch train (claim C5).
    """

    name: str
    version: int
    task: Task
    configs: tuple[Config, ...]
    quick_task: Task
    cross_framework: tuple[str, ...]
    cross_seeds: int = 2

    def configs_for(self, framework: str) -> tuple[Config, ...]:
        if framework == "torch":
            return self.configs
        return tuple(c for c in self.configs if c.name in self.cross_framework)

    def config(self, name: str) -> Config:
        matches = [c for c in self.configs if c.name == name]
        if not matches:
            raise KeyError(f"study {self.name} has no configuration {name!r}.")
        return matches[0]


LAYCA = "Layca"


def paper_configs() -> tuple[Config, ...]:
    """The demo's five methods, Layca's alpha and rate sweeps (claim C1) and Layca with warmup (claim C4)."""
    core = (
        sgd("SGD", 0.1),
        sgd("SGD + weight decay", 0.1, weight_decay=5e-3),
        adam("Adam"),
        layca("Adam + Layca", 3**-5, base="adam"),
        layca(LAYCA, 3**-3),
    )
    sweep = (
        layca("Layca alpha=-0.6", 3**-3, alpha=-0.6),
        layca("Layca alpha=+0.6", 3**-3, alpha=0.6),
        layca("Layca rate=3^-4", 3**-4),
        layca("Layca rate=3^-5", 3**-5),
    )
    warm = Config(layca("Layca + warmup", 3**-3), warmup_epochs=5)
    return (*map(Config, core + sweep), warm)


CROSS_FRAMEWORK = ("SGD + weight decay", "Adam + Layca", LAYCA)
# The default task: 30 epochs separated the methods better than 100 (examples/README.md, "How the task was chosen").
MNIST1D = Study(
    "mnist1d",
    version=1,
    task=Task(epochs=30),
    configs=paper_configs(),
    quick_task=Task(samples=2000, epochs=20),
    cross_framework=CROSS_FRAMEWORK,
)
MNIST1D_100 = Study(
    "mnist1d-100",
    version=1,
    task=Task(epochs=100),
    configs=paper_configs()[:5],
    quick_task=Task(samples=2000, epochs=20),
    cross_framework=(),
)
CIFAR10 = Study(
    "cifar10",
    version=1,
    task=Task("cifar10", samples=60000, epochs=100, network="c10_cnn1", decays=(0.8, 0.9, 0.97)),
    configs=paper_configs(),
    quick_task=Task("cifar10", samples=60000, epochs=2, network="c10_cnn1", decays=(0.8, 0.9, 0.97)),
    cross_framework=CROSS_FRAMEWORK,
)
STUDIES = {study.name: study for study in (MNIST1D, MNIST1D_100, CIFAR10)}


def get(name: str, quick: bool = False, epochs: int | None = None) -> Study:
    """The study called ``name``; ``quick`` swaps in its quick task; ``epochs`` overrides the task's."""
    if name not in STUDIES:
        raise ValueError(f"study must be one of {', '.join(STUDIES)}; got {name!r}.")
    study = STUDIES[name]
    task = study.quick_task if quick else study.task
    if epochs is not None:
        task = replace(task, epochs=epochs)
    return replace(study, task=task)

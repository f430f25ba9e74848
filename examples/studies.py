"""Named, versioned studies: a task and the configurations (method, warmup) trained on it, seed by seed.

Bump a study's ``version`` whenever its task or configurations change: the runner then retrains
the runs it stored under the old version instead of mixing them.
"""

import math
from dataclasses import dataclass, replace

import layca_core
from examples.experiment import Method, adam, adamw, layca, muon, sgd


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
    """One trained configuration: a method, its warmup (epochs, linear from 1/10, as in the paper) and the
    network's width as a multiple of the task's (the language model's rate-transfer claim)."""

    method: Method
    warmup_epochs: float = 0.0
    width: int = 1

    @property
    def name(self) -> str:
        return self.method.name

    def as_dict(self) -> dict:
        """The run key's part; ``width`` only when not 1 (runs stored before it existed stay valid)."""
        width = {"width": self.width} if self.width != 1 else {}
        return {**self.method.as_dict(), "warmup_epochs": self.warmup_epochs, **width}


@dataclass(frozen=True)
class Study:
    """A task, its configurations, the smaller task of ``--quick``, and the configurations compared across frameworks.

    ``cross_framework`` (names) and ``cross_seeds`` are what frameworks other than torch train (claims C5, L5);
    ``claims``: ``"paper"`` (C1-C5) or ``"lm"`` (L1-L5), see ``examples/claims.py``.
    """

    name: str
    version: int
    task: Task
    configs: tuple[Config, ...]
    quick_task: Task
    cross_framework: tuple[str, ...]
    cross_seeds: int = 2
    claims: str = "paper"

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


# The language-model study (examples/README.md, "A language model"): everything below was fixed before its first run.
ADAMW_RATES = ("1e-3", "3e-3", "1e-2")  # AdamW's learning-rate grid; L1 compares with the best of it
WEIGHT_DECAY = 0.1  # AdamW's and Muon's (decoupled), the usual value for language models
LM_WARMUP = 1.0  # epochs of linear warmup (from 1/10) for AdamW and Muon, and for L2's Layca
LAYCA_RATES = (3**-4, 3**-5, 3**-6)  # Adam + Layca's rotation rates at widths 1x and 4x (claim L3)
ADAM_LAYCA, MUON_LAYCA = "Adam + Layca", "Muon + Layca"


def _rate_name(rate: float, width: int) -> str:
    power = round(-math.log(rate, 3))
    return f"{ADAM_LAYCA} rate=3^-{power}" + (f", {width}x width" if width != 1 else "")


def lm_configs() -> tuple[Config, ...]:
    """AdamW over its grid (with warmup, and its middle rate without), Adam + Layca with and without warmup, Muon and
    Muon + Layca, the hyperball rule over Adam and over Muon, and Adam + Layca's rates at widths 1x and 4x."""
    grid = tuple(Config(adamw(f"AdamW lr={lr}", float(lr), WEIGHT_DECAY), LM_WARMUP) for lr in ADAMW_RATES)
    rate = 3**-5
    main = (
        Config(adamw("AdamW lr=3e-3, no warmup", 3e-3, WEIGHT_DECAY)),
        Config(layca(ADAM_LAYCA, rate, base="adam")),
        Config(layca(f"{ADAM_LAYCA} + warmup", rate, base="adam"), LM_WARMUP),
        Config(muon("Muon", 3e-3, WEIGHT_DECAY), LM_WARMUP),
        Config(layca(MUON_LAYCA, rate, base="muon")),
        Config(layca("Adam + hyperball", rate, base="adam", variant="hyperball")),
        Config(layca("Muon + hyperball", rate, base="muon", variant="hyperball")),
    )
    sweep = tuple(
        Config(layca(_rate_name(r, width), r, base="adam"), width=width)
        for width in (1, 4)
        for r in LAYCA_RATES
        if (r, width) != (rate, 1)
    )
    return grid + main + sweep


def rate_sweep(study: Study, width: int) -> dict[float, str]:
    """Adam + Layca without warmup at ``width``: rate -> configuration name (claim L3)."""
    return {
        c.method.lr: c.name
        for c in study.configs
        if c.width == width and c.method.optimizer == "layca" and c.method.base == "adam"
        and c.method.variant == "layca" and not c.warmup_epochs
    }  # fmt: skip


LM_TASK = Task("synthlm", samples=2048, epochs=8, network="transformer", batch=32, decays=(0.7, 0.9))
LM = Study(
    "lm",
    version=1,
    task=LM_TASK,
    configs=lm_configs(),
    quick_task=replace(LM_TASK, samples=256, epochs=2),
    cross_framework=("AdamW lr=3e-3", ADAM_LAYCA),
    claims="lm",
)
STUDIES = {study.name: study for study in (MNIST1D, MNIST1D_100, CIFAR10, LM)}


def get(name: str, quick: bool = False, epochs: int | None = None) -> Study:
    """The study called ``name``; ``quick`` swaps in its quick task; ``epochs`` overrides the task's."""
    if name not in STUDIES:
        raise ValueError(f"study must be one of {', '.join(STUDIES)}; got {name!r}.")
    study = STUDIES[name]
    task = study.quick_task if quick else study.task
    if epochs is not None:
        task = replace(task, epochs=epochs)
    return replace(study, task=task)

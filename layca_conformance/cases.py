"""The case table every conformance check runs, and the deterministic data of each case.

Tolerances are derived, not fitted. With unit roundoff ``u`` of the tested dtype, one step
rounds each weight once when it is stored and accumulates norms over ``n`` entries with
error about ``log2(n) u`` (pairwise sums; float32 for 16-bit weights). The gradients are
fixed in advance, so errors do not feed back through the loss: they add up over the
trajectory, at most linearly. A layer's relative error after ``T`` steps is then bounded by
``C T u`` with ``C = 8 + log2(n)``, and its cosine distance to init, a quadratic in
unit vectors, by twice that. Float64 runs sit far below their bound.

Measured (numpy float32, torch bfloat16): every layer of every case stays below ``0.8 T u``,
except a 2-element layer turned by 84 degrees a step (rate 9), at about ``40 T u``: there a
weight error propagates through the projection amplified by ``1 + |cot(s, w)|``, which only
a tiny layer makes large. That conditioning belongs to the map itself, so the high-rate case
runs on the layers of realistic size; the tiny layer runs in every other case.

A Layca layer's norm is a per-step invariant: renormalizing to the stored initial norm keeps it
within ``2 C u`` of that norm at every step, however long the run (measured: up to 6 u).
Renormalizing to the previous norm instead lets it drift as a random walk: 82 to 355 u after 3000
float32 steps of a 64x64 layer (four seeds; 77 u in float64 and 98 u in float32 for the
``norm-kept`` case, which checks it). Layers under 16 entries are left to the weights bound: a
2-element layer at a step nearly parallel to it, where the projection is ill-conditioned, moves
by up to 40 u in a correct port.

``CASES_VERSION`` changes whenever a case is added, removed or changed: a port can pin it.
"""

import math
from dataclasses import dataclass

import numpy as np

CASES_VERSION = 2
"""The version of the case table (``CASES``)."""

UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "bfloat16": 2.0**-8, "float16": 2.0**-11}

SMALL = ((16, 8, 3, 3), (16,), (64, 32), (2, 1))
MATRICES = ((48, 16), (16,), (24, 40), (2, 1))
"""Muon's cases: matrices (either orientation) and a vector, whose matrix is the same in every framework's layout."""

BASE_DEFAULTS = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9},
    "amom": {"beta": 0.9},
    "adam": {"b1": 0.9, "b2": 0.999, "eps": 1e-7},
    "rmsprop": {"rho": 0.9, "eps": 1e-7},
    "adagrad": {"eps": 1e-7},
    "muon": {"momentum": 0.95, "nesterov": True, "b1": 0.9, "b2": 0.999, "eps": 1e-7},
}
"""Every hyperparameter of each base direction, with the value a case uses unless it sets another."""


@dataclass(frozen=True)
class Case:
    name: str
    shapes: tuple[tuple[int, ...], ...] = SMALL
    base: str = "sgd"
    hyperparameters: tuple[tuple[str, float | bool], ...] = ()
    rate: float = 3.0**-3
    alpha: float = 0.0
    other_rate: float = 0.01
    variant: str = "layca"
    steps: int = 20
    steps_per_epoch: int = 5
    milestones: tuple[int, ...] = ()
    factor: float = 1.0
    warmup_epochs: float = 0.0
    seed: int = 0
    nan_step: int | None = None
    dtypes: tuple[str, ...] = ("float64", "float32", "bfloat16")

    def tolerance(self, dtype: str) -> float:
        """Relative error bound of a layer's weights after the whole trajectory (module docstring)."""
        return self._per_step(dtype) * self.steps

    def norm_tolerance(self, dtype: str) -> float:
        """Bound on the relative distance of a Layca layer's norm to its initial norm, at any step."""
        return 2 * self._per_step(dtype)

    def _per_step(self, dtype: str) -> float:
        """``C u``: the rounding error one step may add, with ``C = 8 + log2(n)`` for the largest layer."""
        return (8 + math.log2(max(math.prod(s) for s in self.shapes))) * UNIT_ROUNDOFF[dtype]

    def options(self) -> dict[str, float | bool]:
        """Every hyperparameter of the base direction: the defaults of ``BASE_DEFAULTS``, updated by the case's own."""
        return {**BASE_DEFAULTS[self.base], **dict(self.hyperparameters)}

    def rates(self) -> list[float]:
        """The global layer rate at each step: ``rate`` times the step decay and the linear warmup.

        Epoch ``t / steps_per_epoch`` (0-indexed): times ``factor`` at each milestone reached, and over the
        first ``warmup_epochs`` times a factor rising linearly from 0.1 to 1.
        """
        return [self.rate * self._schedule(t / self.steps_per_epoch) for t in range(self.steps)]

    def _schedule(self, epoch: float) -> float:
        value = self.factor ** sum(epoch >= milestone for milestone in self.milestones)
        if self.warmup_epochs:
            value *= 0.1 + 0.9 * min(epoch / self.warmup_epochs, 1.0)
        return value

    def initial_params(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        return [rng.standard_normal(shape) for shape in self.shapes]

    def gradients(self) -> list[list[np.ndarray]]:
        """Per step, per parameter: float64 gradients, with NaN/inf in one layer at ``nan_step``."""
        rng = np.random.default_rng(self.seed + 1)
        steps = [[rng.standard_normal(shape) * 0.1 for shape in self.shapes] for _ in range(self.steps)]
        if self.nan_step is not None:
            steps[self.nan_step][0].flat[:3] = [np.nan, np.inf, -np.inf]
        return steps


CASES = (
    Case("sgd"),
    Case("momentum", base="momentum", hyperparameters=(("momentum", 0.9),), alpha=-0.4),
    Case("nesterov", base="nesterov", hyperparameters=(("momentum", 0.9),), alpha=0.6),
    Case("amom", base="amom", rate=3.0**-5),
    Case("adam", base="adam", rate=3.0**-5, alpha=0.3),
    Case("rmsprop", base="rmsprop", rate=3.0**-4),
    Case("adagrad", base="adagrad"),
    Case("lars", variant="lars", rate=3.0**-2),
    Case("hyperball", variant="hyperball", base="momentum", rate=3.0**-2, alpha=0.2),
    Case("muon", base="muon", shapes=MATRICES, alpha=-0.3),
    Case("muon-plain-momentum", base="muon", shapes=MATRICES, hyperparameters=(("momentum", 0.9), ("nesterov", False))),
    Case("muon-hyperball", base="muon", shapes=MATRICES, variant="hyperball", rate=3.0**-2),
    Case("step-decay-warmup", base="momentum", steps=40, milestones=(4, 6), factor=0.2, warmup_epochs=2),
    Case("high-rate", rate=9.0, steps=10, shapes=SMALL[:3]),
    Case("nan-gradients", base="adam", rate=3.0**-5, nan_step=3),
    Case(
        "long",
        base="momentum",
        rate=3.0**-3,
        steps=300,
        shapes=((16, 8, 3, 3), (64, 32)),
        dtypes=("float64", "float32"),
    ),
    Case("one-million", shapes=((1024, 1024), (1024,)), steps=3, dtypes=("float64", "float32")),
    Case("norm-kept", shapes=((64, 64), (16,)), steps=3000, dtypes=("float64", "float32")),
)

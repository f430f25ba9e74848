"""Compare a trajectory with the float64 reference: weights, per-layer rotations and Layca layers' norms."""

import functools
import math
from typing import NamedTuple

import numpy as np

from layca_conformance import reference
from layca_conformance.cases import Case

NORM_CHECKED_SIZE = 16
"""Layers at least this large have their norm checked. A 2-element layer can be nearly parallel to its step,
where the projection is ill-conditioned: its norm then moves by up to 40 u in a correct port (left to the
weights bound), while a realistic layer's stays within 6 u."""


class Errors(NamedTuple):
    weights: float  # largest relative Frobenius error of any parameter, at any step
    rotation: float  # largest absolute error of any layer's cosine distance to init, at any step
    norm: float  # largest relative distance of a Layca layer's norm to its initial norm, at any step (0 for LARS)

    def within(self, case: Case, dtype: str) -> bool:
        """Whether every error is within the case's bounds for ``dtype`` (a NaN never is)."""
        tolerance = case.tolerance(dtype)
        return self.weights <= tolerance and self.rotation <= 2 * tolerance and self.norm <= case.norm_tolerance(dtype)


@functools.cache
def reference_trajectory(case: Case) -> list[list[np.ndarray]]:
    return reference.run(case, case.initial_params(), case.gradients(), case.rates())


def _worst(current: float, value: float) -> float:
    """The larger of the two, where a NaN counts as infinitely large (Python's ``max`` would drop it)."""
    return current if value <= current else (value if math.isfinite(value) else math.inf)


def errors(case: Case, trajectory: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> Errors:
    """The errors of ``trajectory`` against ``expected``; a ValueError names the first step or parameter that does not fit."""
    if len(trajectory) != len(expected):
        raise ValueError(f"The trajectory has {len(trajectory)} steps; the case has {len(expected)}.")
    init = case.initial_params()
    norms = [np.linalg.norm(w0) for w0 in init]
    weight = rotation = norm = 0.0
    for step, (got_step, want_step) in enumerate(zip(trajectory, expected)):
        if len(got_step) != len(want_step):
            raise ValueError(f"Step {step} has {len(got_step)} parameters; the case has {len(want_step)}.")
        for i, (got, want, w0) in enumerate(zip(got_step, want_step, init)):
            got = np.asarray(got, dtype=np.float64)
            if got.shape != want.shape:
                raise ValueError(f"Step {step}, parameter {i} has shape {got.shape}; the case has {want.shape}.")
            weight = _worst(weight, float(np.linalg.norm(got - want) / np.linalg.norm(want)))
            if want.ndim >= 2:
                drift = abs(reference.cosine_distance(got, w0) - reference.cosine_distance(want, w0))
                rotation = _worst(rotation, drift)
                if case.variant != "lars" and want.size >= NORM_CHECKED_SIZE:
                    norm = _worst(norm, float(abs(np.linalg.norm(got) / norms[i] - 1)))
    return Errors(weight, rotation, norm)

"""Compare a trajectory with the float64 reference: weights and per-layer rotations."""

from typing import NamedTuple

import numpy as np

from layca_conformance import reference
from layca_conformance.cases import Case


class Errors(NamedTuple):
    weights: float  # largest relative Frobenius error of any parameter, at any step
    rotation: float  # largest absolute error of any layer's cosine distance to init, at any step

    def within(self, tolerance: float) -> bool:
        return self.weights <= tolerance and self.rotation <= 2 * tolerance


def reference_trajectory(case: Case) -> list[list[np.ndarray]]:
    return reference.run(case, case.initial_params(), case.gradients(), reference.rate_sequence(case))


def errors(case: Case, trajectory: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> Errors:
    init = case.initial_params()
    weight_error = rotation_error = 0.0
    for got_step, want_step in zip(trajectory, expected, strict=True):
        for got, want, w0 in zip(got_step, want_step, init, strict=True):
            weight_error = max(weight_error, float(np.linalg.norm(got - want) / np.linalg.norm(want)))
            if want.ndim >= 2:
                drift = abs(reference.cosine_distance(got, w0) - reference.cosine_distance(want, w0))
                rotation_error = max(rotation_error, drift)
    return Errors(weight_error, rotation_error)

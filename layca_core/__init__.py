"""layca_core: Layca and layer rotation as pure array-API functions (no framework imported).

See ``docs/algorithm.md`` for the mathematics and ``layca_core.step`` for the Layca step.
"""

from layca_core._namespace import array_namespace
from layca_core.base_lookup import DIRECTIONS, direction
from layca_core.defaults import default_rate
from layca_core.directions import (
    AccumulatorState,
    AdamState,
    BaseDirection,
    EmptyState,
    MomentumState,
    adagrad,
    adam,
    amom,
    momentum,
    muon,
    nesterov,
    rmsprop,
    sgd,
)
from layca_core.history import RotationHistory
from layca_core.muon import MuonState
from layca_core.orthogonal import newton_schulz
from layca_core.plotting import plot_layer_rotation
from layca_core.rates import (
    PAPER_SCHEDULES,
    StepDecay,
    alpha_multipliers,
    angle_to_rate,
    paper_schedule,
    rate_to_angle,
)
from layca_core.rotation import cosine_distance, layer_rotations, rate_from_cosine_distance, step_angle
from layca_core.step import hyperball_step, initial_norm, lars_step, layca_step, layca_steps

__version__ = "0.1.0"

__all__ = [
    "DIRECTIONS",
    "PAPER_SCHEDULES",
    "AccumulatorState",
    "AdamState",
    "BaseDirection",
    "EmptyState",
    "MomentumState",
    "MuonState",
    "RotationHistory",
    "StepDecay",
    "__version__",
    "adagrad",
    "adam",
    "alpha_multipliers",
    "amom",
    "angle_to_rate",
    "array_namespace",
    "cosine_distance",
    "default_rate",
    "direction",
    "hyperball_step",
    "initial_norm",
    "lars_step",
    "layca_step",
    "layca_steps",
    "layer_rotations",
    "momentum",
    "muon",
    "nesterov",
    "newton_schulz",
    "paper_schedule",
    "plot_layer_rotation",
    "rate_from_cosine_distance",
    "rate_to_angle",
    "rmsprop",
    "sgd",
    "step_angle",
]

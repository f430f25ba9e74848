"""The engine adapters and executors build on: one Layca step over a list of layers, and its plumbing.

- ``turn_layers`` with an ``Executor`` (reduce, decide, apply; the arithmetic lives only there), and
  ``executors_for``, which asks the policy an adapter registered for the layers' array type
  (``register_executors``: torch's multi-tensor, flat and compiled executors by ``import layca_torch``, the XLA
  one by ``import layca_jax``) and gives every other array the array-API ``ReferenceExecutor``;
- ``LayerPlan``: which parameters are layers, with Equation 1's multipliers;
- ``optimizer_step``: base directions and Layca over all parameters, each layer on its chosen executor (Optax,
  Keras and torch's per-tensor path call it once per step);
- ``checked_options``: what adapters check at construction;
- ``RATE_NAMES`` and ``spelling_of``: the words adapters name rates and hyperparameters with, in messages;
- ``FAN_OUT_AXIS``: the axis of each framework's weights that holds the fan-out (the muon base's matrices).

Users call ``layca_core.layca_step`` and the adapters; this module is for adapters and executors.
"""

from layca_core.engine.optimizer import optimizer_step
from layca_core.engine.options import FAN_OUT_AXIS, RATE_NAMES, checked_options, spelling_of
from layca_core.engine.plan import LayerPlan
from layca_core.engine.policy import executors_for, register_executors
from layca_core.engine.reference import ReferenceExecutor
from layca_core.engine.turn import Executor, turn_layers

__all__ = [
    "FAN_OUT_AXIS",
    "RATE_NAMES",
    "Executor",
    "LayerPlan",
    "ReferenceExecutor",
    "checked_options",
    "executors_for",
    "optimizer_step",
    "register_executors",
    "spelling_of",
    "turn_layers",
]

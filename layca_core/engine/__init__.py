"""The engine adapters and executors build on: one Layca step over a list of layers, and its plumbing.

- ``turn_layers`` with an ``Executor`` (reduce, decide, apply; the arithmetic lives only there), and
  ``executors_for``, the one executor policy (``policy.choose_executor``: the array-API reference, the XLA
  executor for JAX arrays, or for torch tensors the multi-tensor, flat, compiled or Triton executor of
  ``layca_core.torch_executors``, each imported only when chosen);
- ``LayerPlan``: which parameters are layers, with Equation 1's multipliers;
- ``optimizer_step``: base directions and Layca over all parameters, each layer on its chosen executor (Optax,
  Keras and torch's per-tensor path call it once per step);
- ``checked_options``: what adapters check at construction;
- ``RATE_NAMES`` and ``spelling_of``: the words adapters name rates and hyperparameters with, in messages.

Users call ``layca_core.layca_step`` and the adapters; this module is for adapters and executors.
"""

from layca_core.engine.optimizer import optimizer_step
from layca_core.engine.options import RATE_NAMES, checked_options, spelling_of
from layca_core.engine.plan import LayerPlan
from layca_core.engine.policy import executors_for
from layca_core.engine.turn import Executor, turn_layers

__all__ = [
    "RATE_NAMES",
    "Executor",
    "LayerPlan",
    "checked_options",
    "executors_for",
    "optimizer_step",
    "spelling_of",
    "turn_layers",
]

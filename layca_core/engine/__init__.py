"""The engine adapters build on: one Layca step over a list of layers, and its plumbing.

- ``turn_layers`` with an ``Executor`` (reduce, decide, apply; the arithmetic lives only here),
  ``ReferenceExecutor`` for any array-API namespace, ``per_layer`` to build its vectors, and
  ``executor_for``, which picks torch's multi-tensor executor (``torch_executor``), for CUDA
  tensors with triton installed the Triton one (``triton_executor``), or on request the compiled CPU
  one (``compiled_executor``), each imported only when used;
- ``LayerPlan``: which parameters are layers, with Equation 1's multipliers;
- ``optimizer_step``: base directions and Layca over all parameters with the reference executor;
- ``checked_options`` and ``initial_norms``: what adapters check and store at construction.

Users call ``layca_core.layca_step`` and the adapters; this module is for adapters and executors.
"""

from layca_core.engine.optimizer import initial_norms, optimizer_step
from layca_core.engine.options import checked_options
from layca_core.engine.plan import LayerPlan
from layca_core.engine.reference import ReferenceExecutor, executor_for, per_layer, wide_dtype
from layca_core.engine.turn import VARIANTS, Executor, scale_factors, turn_layers

__all__ = [
    "VARIANTS",
    "Executor",
    "LayerPlan",
    "ReferenceExecutor",
    "checked_options",
    "executor_for",
    "initial_norms",
    "optimizer_step",
    "per_layer",
    "scale_factors",
    "turn_layers",
    "wide_dtype",
]

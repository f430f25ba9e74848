"""layca_optax: Layca as Optax GradientTransformations, and layer rotation monitoring for JAX.

Hyperparameters (``learning_rate``, ``alpha``, ``base``, ``variant``, ``other_learning_rate``,
``freeze_others``) are explained in ``docs/algorithm.md``, which writes Equation 1 out; layer selection
and monitoring across a resume in ``docs/monitoring.md``; the Optax idioms layca supports in ``docs/idioms.md``.
Each layer's reference norm is read from the parameters at the first update, not at ``init``: weights
loaded after ``init`` keep their norms, and ``reset_layer_norms`` re-anchors them mid-run.
"""

from layca_core import __version__
from layca_optax.hyperparameters import HYPERPARAMETER_NAMES
from layca_optax.monitor import RotationMonitor, cosine_distances
from layca_optax.norms import reset_layer_norms
from layca_optax.selection import describe
from layca_optax.state import LaycaState, ScaleByLaycaState
from layca_optax.transform import layca, scale_by_layca

__all__ = [
    "HYPERPARAMETER_NAMES",
    "__version__",
    "LaycaState",
    "RotationMonitor",
    "ScaleByLaycaState",
    "cosine_distances",
    "describe",
    "layca",
    "reset_layer_norms",
    "scale_by_layca",
]

"""layca_optax: Layca as Optax GradientTransformations, and layer rotation monitoring for JAX.

Hyperparameters (``lr``/``learning_rate``, ``alpha``, ``base``, ``variant``, ``other_lr``/``other_learning_rate``,
``freeze_others``) are explained in ``docs/algorithm.md``, which writes Equation 1 out; layer selection
and monitoring across a resume in ``docs/monitoring.md``.
"""

from layca_core import __version__
from layca_optax.monitor import RotationRecorder, layer_rotations
from layca_optax.transform import LaycaState, ScaleByLaycaState, layca, scale_by_layca

__all__ = [
    "__version__",
    "LaycaState",
    "RotationRecorder",
    "ScaleByLaycaState",
    "layca",
    "layer_rotations",
    "scale_by_layca",
]

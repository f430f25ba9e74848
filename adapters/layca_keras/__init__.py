"""layca_keras: Layca as a Keras 3 optimizer (TensorFlow, JAX and torch backends), and a rotation callback.

Hyperparameters (``lr``/``learning_rate``, ``alpha``, ``base``, ``variant``, ``other_lr``/``other_learning_rate``,
``freeze_others``) are explained in ``docs/algorithm.md``, which writes Equation 1 out; layer selection
and monitoring across a resume in ``docs/monitoring.md``.
"""

from layca_core import __version__
from layca_keras.callback import LayerRotationCurves
from layca_keras.optimizer import Layca
from layca_keras.wrapper import LaycaWrapper

__all__ = ["__version__", "LayerRotationCurves", "Layca", "LaycaWrapper"]

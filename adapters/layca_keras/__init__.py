"""layca_keras: Layca as a Keras 3 optimizer (TensorFlow, JAX and torch backends), and a rotation callback.

Hyperparameters (``learning_rate``, ``alpha``, ``base``, ``variant``, ``other_learning_rate``,
``freeze_others``) are explained in ``docs/algorithm.md``, which writes Equation 1 out; layer selection
and monitoring across a resume in ``docs/monitoring.md``. ``HYPERPARAMETER_NAMES`` maps the base
hyperparameters' Keras names (``beta_1``, ``epsilon``...) to the core's. Importing this package
registers ``Layca`` and ``LaycaWrapper`` (as ``layca>Layca``, ``layca>LaycaWrapper``) for
``keras.saving.load_model``: import it before loading a model saved with them.
"""

from layca_core import __version__
from layca_keras.callback import RotationMonitor
from layca_keras.hyperparameters import HYPERPARAMETER_NAMES
from layca_keras.optimizer import Layca, describe
from layca_keras.wrapper import LaycaWrapper

__all__ = ["__version__", "HYPERPARAMETER_NAMES", "Layca", "LaycaWrapper", "RotationMonitor", "describe"]

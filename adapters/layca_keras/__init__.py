"""layca_keras: Layca as a Keras 3 optimizer (TensorFlow, JAX and torch backends), and a rotation callback."""

from layca_core import __version__
from layca_keras.callback import LayerRotationCurves
from layca_keras.optimizer import Layca
from layca_keras.wrapper import LaycaWrapper

__all__ = ["__version__", "LayerRotationCurves", "Layca", "LaycaWrapper"]

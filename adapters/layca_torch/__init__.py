"""layca_torch: Layca as a torch.optim optimizer, and layer rotation monitoring for PyTorch."""

from layca_core import __version__
from layca_torch.groups import layca_param_groups
from layca_torch.monitor import RotationMonitor, layer_angles
from layca_torch.optimizer import Layca
from layca_torch.wrapper import LaycaWrapper

__all__ = ["__version__", "Layca", "LaycaWrapper", "RotationMonitor", "layca_param_groups", "layer_angles"]

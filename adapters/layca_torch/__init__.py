"""layca_torch: Layca as a torch.optim optimizer, and layer rotation monitoring for PyTorch.

Hyperparameters (``lr``, ``alpha``, ``base``, ``variant``, ``other_lr``, ``freeze_others``) are explained in
``docs/algorithm.md``, which writes Equation 1 out; layer selection
and monitoring across a resume in ``docs/monitoring.md``; torch's idioms layca supports (with the tests that prove
them) and each adapter's words in ``docs/idioms.md``.
"""

from layca_core import __version__
from layca_torch.groups import layca_param_groups
from layca_torch.hyperparameters import HYPERPARAMETER_NAMES
from layca_torch.monitor import RotationMonitor, layer_angles
from layca_torch.optimizer import Layca
from layca_torch.roles import describe
from layca_torch.wrapper import LaycaWrapper

__all__ = [
    "__version__",
    "HYPERPARAMETER_NAMES",
    "Layca",
    "LaycaWrapper",
    "RotationMonitor",
    "describe",
    "layca_param_groups",
    "layer_angles",
]

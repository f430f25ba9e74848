"""``layca_torch.Layca`` as an entry of torch's own optimizer test database (``OptimizerInfo``, from
``torch.testing._internal.common_optimizers``), with what the generic tests of torch's ``test/test_optim.py`` share.

``INFO.optim_inputs_func`` gives every base with its hyperparameters and the main options, without the
implementation flags; ``configs`` adds them as torch's ``_get_optim_inputs_including_global_cliquey_kwargs`` does,
on the CPU too (torch's helper leaves ``foreach`` out there, its foreach kernels being for accelerators, where Layca's
run on every device), and ``fused=True`` alone: torch's helper would pair it with ``foreach=False``, a combination
Layca refuses by design (the fused kernels are multi-tensor; ``docs/idioms.md``).
"""

import copy

import pytest
import torch

pytest.importorskip("expecttest", reason="torch's internal testing modules need expecttest (the [test] extra)")

from torch.testing._internal.common_optimizers import (  # noqa: E402
    ErrorOptimizerInput,
    OptimizerErrorEnum,
    OptimizerInfo,
    OptimizerInput,
    TensorTracker,
    get_error_inputs_for_all_optims,
)
from torch.testing._internal.common_utils import TestCase  # noqa: E402

import layca_torch  # noqa: E402

__all__ = ["ErrorOptimizerInput", "OptimizerErrorEnum", "OptimizerInput", "get_error_inputs_for_all_optims"]

BASES = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.8},
    "adam": {"betas": (0.8, 0.99)},
    "rmsprop": {"rho": 0.95},
    "adagrad": {"initial_accumulator_value": 0.1},
    "amom": {"beta": 0.8},
    "muon": {"momentum": 0.9},
}
"""Every base, with hyperparameters that differ from the defaults (so that a lost key shows)."""

OPTIONS = {
    "tensor lr": {"base": "adam", "lr": torch.tensor(0.01)},
    "weight_decay": {"base": "adam", "weight_decay": 0.1},
    "maximize": {"base": "momentum", "momentum": 0.9, "weight_decay": 0.1, "maximize": True},
    "lars": {"base": "momentum", "variant": "lars"},
    "hyperball": {"base": "adam", "variant": "hyperball"},
    "other_lr": {"base": "rmsprop", "other_lr": 0.003},
    "freeze_others": {"base": "sgd", "freeze_others": True},
}
"""The main options (``alpha`` needs two layers: ``test_torch_generic`` gives it its own checks)."""


def optim_inputs(device, dtype=None):
    """torch's ``optim_inputs_func`` for Layca: every base, then each option."""
    inputs = [OptimizerInput(params=None, kwargs={"base": b, **h}, desc=b) for b, h in BASES.items()]
    return inputs + [OptimizerInput(params=None, kwargs=dict(k), desc=d) for d, k in OPTIONS.items()]


INFO = OptimizerInfo(
    layca_torch.Layca,
    optim_inputs_func=optim_inputs,
    supported_impls=("foreach",),
    supports_fused_on=("cpu", "cuda"),
    supports_complex=False,
    not_og_supported_flags=("foreach", "fused", "maximize", "weight_decay", "include", "is_layer", "other_lr"),
)
"""Layca's entry: foreach and fused implementations, no differentiable one, no complex or sparse parameters."""


FLAGS = {"forloop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def configs(device="cpu"):
    """Every input with each implementation, as ``pytest.param``s with readable ids."""
    return [
        pytest.param({**optim_input.kwargs, **flags}, id=f"{optim_input.desc}-{impl}")
        for optim_input in INFO.optim_inputs_func(device)
        for impl, flags in FLAGS.items()
    ]


INPUTS = [pytest.param(i.kwargs, id=i.desc) for i in optim_inputs("cpu")]
"""Every input on the default implementation."""


def assert_equal(actual, expected, **tolerance):
    """torch's ``TestCase.assertEqual``: nested containers, tensors, strings and numbers alike."""
    TestCase().assertEqual(actual, expected, **tolerance)


def fresh(kwargs):
    """A deep copy of a config (a tensor ``lr`` changed by a scheduler must not carry over)."""
    return copy.deepcopy(kwargs)


def linear(dtype=torch.float32, contiguous=True, seed=0):
    """torch's generic problem: a weight (a layer by the shape rule), a bias (another parameter) and an input."""
    generator = torch.Generator().manual_seed(seed)
    if contiguous:
        weight, bias = torch.randn(10, 5, generator=generator), torch.randn(10, generator=generator)
    else:
        weight, bias = (
            torch.randn(10, 5, 2, generator=generator)[..., 0],
            torch.randn(10, 2, generator=generator)[..., 0],
        )
    x = torch.randn(5, generator=generator)
    return torch.nn.Parameter(weight.to(dtype)), torch.nn.Parameter(bias.to(dtype)), x.to(dtype)


def loss_of(optimizer, weight, bias, x):
    """torch's generic closure: zero the gradients, ``|W x + b|^2``, backward."""
    optimizer.zero_grad()
    loss = (weight.mv(x) + bias).pow(2).sum()
    loss.backward()
    return loss


def sigmoid_net(dtype, seed=1):
    """torch's model for implementation parity: two dense layers with sigmoids."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1), torch.nn.Sigmoid())
    return net.to(dtype)


def conv_net(dtype=torch.float32, seed=1):
    """torch's model for the state-dict tests: a strided 1x1 convolution and a batch norm."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(4, 2, 1, stride=2), torch.nn.BatchNorm2d(2)).to(dtype)


def compare_between(x, models, optimizers, tolerance=None):
    """torch's ``_compare_between``: 7 steps of two optimizers on two copies of a model, parameters and every state
    tensor equal after each step (``TensorTracker``); no gradient at step 2, the last layer frozen at steps 3-4."""
    tracker, case = TensorTracker(tolerance or {}), TestCase()
    for i in range(7):
        states, params = [], []
        for net, optimizer in zip(models, optimizers):
            optimizer.zero_grad()
            if i in (3, 5):
                net[2].requires_grad_(i == 5)
            if i != 2:
                net(x).sum().backward()
            optimizer.step()
            states.append(optimizer.state)
            params.append(list(net.parameters()))
        for p, q in zip(*params):
            tracker.add(p)
            tracker.pop_check_set(q, case)
            assert states[0][p].keys() == states[1][q].keys()
            for key in states[0][p]:
                tracker.add(states[0][p][key])
                tracker.pop_check_set(states[1][q][key], case)
    assert tracker.all_popped()

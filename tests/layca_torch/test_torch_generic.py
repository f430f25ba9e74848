"""The generic checks torch's ``test/test_optim.py`` runs on every entry of its optimizer database, run on
``layca_torch.Layca`` (``tests/layca_torch/torch_generic.py``: every base and option, forloop, foreach and fused):
errors, the loss going the right way, tensor lr, param groups, no-op steps, and implementation parity.

Adapted where Layca differs by design: a parameter listed twice is an error (torch warns that it will become one);
complex, sparse and meta parameters and the differentiable mode are refused with a message; implementations are
compared per layer, relative to the layer's norm, where a 16-bit layer's entries may differ by an ulp of it.
"""

import functools

import pytest
import torch

import layca_torch
from tests.layca_torch import torch_generic as generic
from tests.layca_torch.torch_generic import (
    ErrorOptimizerInput,
    OptimizerErrorEnum,
    OptimizerInput,
    get_error_inputs_for_all_optims,
)

CONFIGS = generic.configs()
INPUTS = generic.INPUTS
BASE_INPUTS = INPUTS[: len(generic.BASES)]


def error_inputs():
    """torch's errors for every optimizer, the duplicate parameter an error here, then Layca's own."""
    sample = torch.nn.Parameter(torch.randn(1, 1))
    errors = []
    for error in get_error_inputs_for_all_optims("cpu", torch.float32):
        if error.error_type is UserWarning:  # "a parameter group with duplicate parameters": an error in Layca
            error = ErrorOptimizerInput(error.optimizer_error_input, error_type=ValueError, error_regex="twice")
        errors.append(error)

    def refused(kwargs, desc, error_type, regex, params=None, on=OptimizerErrorEnum.CONSTRUCTION_ERROR):
        params = [torch.nn.Parameter(torch.randn(2, 2))] if params is None else params
        errors.append(ErrorOptimizerInput(OptimizerInput(params, kwargs, desc), error_on=on, error_type=error_type,
                                          error_regex=regex))  # fmt: skip

    refused({"lr": -0.1}, "negative lr", ValueError, "lr must be a finite number >= 0")
    refused(
        {"base": "momentum", "momentum": -0.5}, "momentum", ValueError, "needs 0 <= momentum < 1; got momentum=-0.5"
    )
    refused({"other_lr": torch.ones(2)}, "tensor other_lr", ValueError, "Tensor other_lr must be 1-element")
    refused({"differentiable": True}, "differentiable", TypeError, "not differentiable .*: remove differentiable=")
    refused({"capturable": False}, "capturable", TypeError, "no capturable mode .*: remove capturable=")
    refused({"base": "adam", "amsgrad": True}, "amsgrad", TypeError, "Base 'adam' takes betas, eps; got 'amsgrad'")
    refused({"fused": True, "foreach": False}, "fused forloop", ValueError, "fused=True and foreach=False contradict")
    refused({}, "empty", ValueError, "optimizer got an empty parameter list", params=[])
    complex_param = torch.randn(3, 3, dtype=torch.complex64, requires_grad=True)
    refused({}, "complex", TypeError, r"complex64: keep it as a real parameter \(torch.view_as_real", [complex_param])
    embedding = torch.nn.Embedding(4, 3, sparse=True)
    embedding(torch.tensor([1, 2])).sum().backward()
    refused({}, "sparse", RuntimeError, "sparse gradients", [embedding.weight], OptimizerErrorEnum.STEP_ERROR)
    refused({}, "names", ValueError, "with/without names", [("w", sample), torch.nn.Parameter(torch.randn(2))])
    return [pytest.param(e, id=e.optimizer_error_input.desc.split(" (")[0]) for e in errors]


def test_inputs_name_no_implementation_flag():
    for optim_input in generic.optim_inputs("cpu"):
        assert not {"foreach", "fused", "differentiable"} & set(optim_input.kwargs)


@pytest.mark.parametrize("error", error_inputs())
def test_errors(error):
    optim_input = error.optimizer_error_input
    if error.error_on == OptimizerErrorEnum.CONSTRUCTION_ERROR:
        with pytest.raises(error.error_type, match=error.error_regex):
            layca_torch.Layca(optim_input.params, **optim_input.kwargs)
    else:
        optimizer = layca_torch.Layca(optim_input.params, **optim_input.kwargs)
        with pytest.raises(error.error_type, match=error.error_regex):
            optimizer.step()


def schedulers():
    yield lambda optimizer: []
    yield lambda optimizer: [torch.optim.lr_scheduler.StepLR(optimizer, gamma=0.9, step_size=10)]
    yield lambda optimizer: [torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)]


def assert_right_direction(kwargs, final, initial):
    assert final > initial if kwargs.get("maximize") else final < initial, (final, initial)


def train(kwargs, contiguous=True, make_schedulers=lambda optimizer: []):
    """torch's ``test_forloop_goes_right_direction``: 20 steps, the loss moved the right way."""
    config = generic.fresh(kwargs)
    weight, bias, x = generic.linear(contiguous=contiguous)
    optimizer = layca_torch.Layca([weight, bias], **config)
    scheduled = make_schedulers(optimizer)
    initial = generic.loss_of(optimizer, weight, bias, x).item()
    for _ in range(20):
        loss = generic.loss_of(optimizer, weight, bias, x)
        optimizer.step()
        for scheduler in scheduled:
            scheduler.step(loss.item()) if hasattr(scheduler, "num_bad_epochs") else scheduler.step()
    assert_right_direction(config, generic.loss_of(optimizer, weight, bias, x).item(), initial)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_goes_right_direction(kwargs):
    """Every implementation (torch's test runs the forloop one only)."""
    train(kwargs)


@pytest.mark.parametrize("kwargs", INPUTS)
def test_goes_right_direction_strided_and_with_schedulers(kwargs):
    """Strided parameters, and torch's StepLR and ReduceLROnPlateau, on the default implementation."""
    for make_schedulers in schedulers():
        train(kwargs, contiguous=False, make_schedulers=make_schedulers)


@pytest.mark.parametrize("kwargs", INPUTS)
def test_param_group_with_lrscheduler_goes_right_direction(kwargs):
    for make_schedulers in schedulers():
        weight, bias, x = generic.linear()
        config = {k: v for k, v in generic.fresh(kwargs).items() if k != "maximize"}
        optimizer = layca_torch.Layca([{"params": [weight]}, {"params": [bias], "lr": 0.01}], **config)
        scheduled = make_schedulers(optimizer)
        initial = generic.loss_of(optimizer, weight, bias, x).item()
        for _ in range(20):
            loss = optimizer.step(functools.partial(generic.loss_of, optimizer, weight, bias, x))
            for scheduler in scheduled:
                scheduler.step(loss.item()) if hasattr(scheduler, "num_bad_epochs") else scheduler.step()
        assert generic.loss_of(optimizer, weight, bias, x).item() < initial


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_tensor_lr(kwargs):
    weight, bias, x = generic.linear()
    twin_weight, twin_bias = (p.detach().clone().requires_grad_(True) for p in (weight, bias))
    config = {**generic.fresh(kwargs), "lr": 1e-3}
    optimizer = layca_torch.Layca([weight, bias], **config)
    tensor_lr = layca_torch.Layca([twin_weight, twin_bias], **{**config, "lr": torch.tensor(1e-3)})
    for _ in range(5):
        optimizer.step(lambda: generic.loss_of(optimizer, weight, bias, x))
        tensor_lr.step(lambda: generic.loss_of(tensor_lr, twin_weight, twin_bias, x))
        torch.testing.assert_close((weight, bias), (twin_weight, twin_bias))


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_param_groups_weight_decay(kwargs):
    weight, bias, x = generic.linear()
    config = generic.fresh(kwargs)
    optimizer = layca_torch.Layca([{"params": [weight], **config}, {"params": [bias], **config, "weight_decay": 0.0}])
    initial = generic.loss_of(optimizer, weight, bias, x).item()
    for _ in range(20):
        loss = generic.loss_of(optimizer, weight, bias, x)
        optimizer.step()
    assert_right_direction(config, loss.item(), initial)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_param_groups_lr(kwargs):
    """A group at lr 1e-28 leaves its parameter as it was; the other group trains."""
    weight, bias, x = generic.linear()
    irrelevant = torch.nn.Parameter(torch.randn(2))
    before = irrelevant.detach().clone()
    config = {"lr": 1e-3, **generic.fresh(kwargs)}
    optimizer = layca_torch.Layca([{"params": [weight, bias], **config}, {"params": [irrelevant]}], lr=1e-28)
    initial = generic.loss_of(optimizer, weight, bias, x).item()
    for _ in range(20):
        loss = generic.loss_of(optimizer, weight, bias, x)
        irrelevant.grad = torch.rand_like(irrelevant)
        optimizer.step()
    assert_right_direction(config, loss.item(), initial)
    assert torch.equal(irrelevant.detach(), before)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_step_is_noop_when_params_have_no_grad(kwargs):
    params = [torch.randn(2, 3) for _ in range(2)]
    before = [p.clone() for p in params]
    layca_torch.Layca(params, **generic.fresh(kwargs)).step(lambda: torch.tensor([1.0]))
    assert all(torch.equal(p, q) for p, q in zip(params, before))


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_step_is_noop_for_zero_grads(kwargs):
    """A (5, 1) layer (by the shape rule) with a zero gradient stays where it is, up to the renormalisation's ulp."""
    if kwargs.get("weight_decay"):
        pytest.skip("weight decay moves parameters without a gradient, as in torch's test")
    param = torch.randn(5, 1, requires_grad=True)
    before = param.detach().clone()
    optimizer = layca_torch.Layca([param], **generic.fresh(kwargs))
    param.grad = torch.zeros_like(param)
    optimizer.step(lambda: torch.tensor([1.0]))
    torch.testing.assert_close(param.detach(), before)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_optimizer_can_be_printed_and_state_is_never_empty(kwargs):
    net = torch.nn.Linear(5, 5)
    optimizer = layca_torch.Layca(net.parameters(), **generic.fresh(kwargs))
    assert "Parameter Group 0" in repr(optimizer)
    net(torch.rand(2, 5)).sum().backward()
    optimizer.step()
    assert optimizer.state and all(len(state) > 0 for state in optimizer.state.values())


def parity(kwargs, flag, dtype, tolerance=None):
    """torch's ``_test_derived_optimizers``: ``flag`` False against True, with a 0-d parameter last."""
    models, optimizers = [], []
    for value in (False, True):
        net = generic.sigmoid_net(dtype)
        scalar = torch.empty((), dtype=dtype, requires_grad=True)
        scalar.grad = torch.rand_like(scalar)
        config = {**generic.fresh(kwargs), flag: value}
        models.append(net)
        optimizers.append(layca_torch.Layca([*net.parameters(), scalar], **config))
    x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], dtype=dtype).reshape(3, 2)
    generic.compare_between(x, models, optimizers, tolerance)


@pytest.mark.parametrize("kwargs", INPUTS)
def test_foreach_matches_forloop(kwargs):
    parity(kwargs, "foreach", torch.float64)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("kwargs", INPUTS)
def test_fused_matches_forloop(kwargs, dtype):
    """fused=True against the default path (fused=False; Layca's fused path is multi-tensor, not forloop)."""
    parity(kwargs, "fused", dtype)

"""``weight_decay`` as torch users pass it: a keyword and a param-group key of ``layca_torch.Layca`` (0.0 included),
L2 on the gradient as in torch's optimizer of the same base, removed along a layer by the tangent projection; and
torch's own generic ``test_param_groups_weight_decay`` (``test/test_optim.py``), run on Layca."""

import copy
import math

import pytest
import torch

import layca_core
import layca_torch

WEIGHT_DECAY = 0.3
BASES = {
    "sgd": ({}, lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd)),
    "momentum": ({"momentum": 0.8}, lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.8, weight_decay=wd)),
    "nesterov": (
        {"momentum": 0.7},
        lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.7, nesterov=True, weight_decay=wd),
    ),
    "adam": (
        {"betas": (0.8, 0.99), "eps": 1e-8},
        lambda p, lr, wd: torch.optim.Adam(p, lr=lr, betas=(0.8, 0.99), eps=1e-8, weight_decay=wd),
    ),
    "rmsprop": (
        {"rho": 0.9, "eps": 1e-8},
        lambda p, lr, wd: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-8, weight_decay=wd),
    ),
    "adagrad": (
        {"eps": 1e-10, "initial_accumulator_value": 0.1},
        lambda p, lr, wd: torch.optim.Adagrad(p, lr=lr, eps=1e-10, initial_accumulator_value=0.1, weight_decay=wd),
    ),
}
"""Each base with torch's optimizer of the same name, built with the same hyperparameters."""

TORCH_INPUTS = [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "maximize": True}]
"""The weight-decay configurations torch's ``optim_inputs_func_*`` give its own optimizers."""


def gradients(shape, steps, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator) for _ in range(steps)]


@pytest.mark.parametrize("foreach", [True, False], ids=["foreach", "forloop"])
@pytest.mark.parametrize("base", sorted(layca_core.DIRECTIONS))
@pytest.mark.parametrize("kwargs", TORCH_INPUTS, ids=["default", "weight_decay", "maximize"])
def test_torchs_param_groups_weight_decay(base, foreach, kwargs):
    """torch's test, on Layca: the weight group takes the inputs' options, the bias group the same with
    ``weight_decay=0.0``; after 20 steps the loss moved the right way."""
    torch.manual_seed(0)
    weight_kwargs = {"base": base, "foreach": foreach, **kwargs}
    bias_kwargs = {**copy.deepcopy(weight_kwargs), "weight_decay": 0.0}
    weight = torch.nn.Parameter(torch.randn((10, 5)))
    bias = torch.nn.Parameter(torch.randn(10))
    x = torch.randn(5)
    optimizer = layca_torch.Layca([dict(params=[weight], **weight_kwargs), dict(params=[bias], **bias_kwargs)])
    initial = (weight.mv(x) + bias).pow(2).sum().item()
    for _ in range(20):
        optimizer.zero_grad()
        loss = (weight.mv(x) + bias).pow(2).sum()
        loss.backward()
        optimizer.step()
    assert loss.item() > initial if kwargs.get("maximize") else loss.item() < initial


@pytest.mark.parametrize("foreach", [True, False], ids=["foreach", "forloop"])
@pytest.mark.parametrize("maximize", [False, True], ids=["minimize", "maximize"])
@pytest.mark.parametrize("base", sorted(BASES))
def test_other_parameters_decay_as_torchs_optimizer_of_the_same_base(base, maximize, foreach):
    hyperparameters, make_torch = BASES[base]
    start = torch.randn(7, generator=torch.Generator().manual_seed(1))
    ours, theirs = (torch.nn.Parameter(start.clone()) for _ in range(2))
    layca = layca_torch.Layca(
        [ours], lr=0.05, base=base, weight_decay=WEIGHT_DECAY, maximize=maximize, foreach=foreach, **hyperparameters
    )
    reference = make_torch([theirs], 0.05, WEIGHT_DECAY)
    reference.param_groups[0]["maximize"] = maximize
    for g in gradients(7, 4):
        ours.grad, theirs.grad = g.clone(), g.clone()
        layca.step()
        reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("foreach", [True, False], ids=["foreach", "forloop"])
def test_on_a_layer_under_sgd_the_projection_removes_the_decay(foreach):
    """``s = g + wd w``: the part along ``w`` is the decay, and the tangent projection takes it away exactly."""
    start = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    layers = [torch.nn.Parameter(start.clone()) for _ in range(2)]
    optimizers = [layca_torch.Layca([p], lr=0.1, weight_decay=wd, foreach=foreach) for p, wd in zip(layers, (0.0, 0.5))]
    for g in gradients((6, 4), 3):
        for p, optimizer in zip(layers, optimizers):
            p.grad = g.clone()
            optimizer.step()
    torch.testing.assert_close(layers[0].detach(), layers[1].detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("base", ["momentum", "adam", "rmsprop"])
def test_on_a_layer_the_decay_enters_the_base_state_and_the_turn_is_still_exact(base):
    """Momentum and the moments accumulate ``g + wd w``: the direction changes, the angle and the norm do not."""
    hyperparameters, _ = BASES[base]
    start = torch.randn(6, 4, generator=torch.Generator().manual_seed(3))
    layers = [torch.nn.Parameter(start.clone()) for _ in range(2)]
    optimizers = [
        layca_torch.Layca([p], lr=0.1, base=base, weight_decay=wd, **hyperparameters)
        for p, wd in zip(layers, (0.0, 2.0))
    ]
    for g in gradients((6, 4), 3):
        before = layers[1].detach().clone()
        for p, optimizer in zip(layers, optimizers):
            p.grad = g.clone()
            optimizer.step()
        turned = float(layca_core.step_angle(before.double().numpy(), layers[1].detach().double().numpy()))
        assert turned == pytest.approx(math.atan(0.1), rel=1e-4)
    assert float(layers[1].detach().norm()) == pytest.approx(float(start.norm()), rel=1e-5)
    assert not torch.allclose(layers[0], layers[1])
    assert "weight_decay" in optimizers[1].state_dict()["param_groups"][0]


def test_weight_decay_is_checked_and_groups_may_differ():
    weight, bias = torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(3))
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        layca_torch.Layca([weight], weight_decay=-0.1)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        layca_torch.Layca([{"params": [weight]}, {"params": [bias], "weight_decay": math.inf}])
    optimizer = layca_torch.Layca([{"params": [weight]}, {"params": [bias], "weight_decay": 0.01}], weight_decay=0.0)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.0, 0.01]


def test_an_unknown_group_key_names_its_group():
    weight, bias = torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(3))
    with pytest.raises(TypeError, match=r"^Param group 1: Base 'adam' takes betas, eps; got 'amsgrad'\.$"):
        layca_torch.Layca([{"params": [weight]}, {"params": [bias], "amsgrad": True}], base="adam")


def test_the_wrapper_leaves_weight_decay_to_the_wrapped_optimizer():
    """``LaycaWrapper``'s param groups are its inner optimizer's: ``weight_decay`` is that optimizer's key. SGD's L2
    term is along the layer, so the turn is the one without it."""
    start = torch.randn(5, 3, generator=torch.Generator().manual_seed(4))
    layers = [torch.nn.Parameter(start.clone()) for _ in range(2)]
    wrapped = [
        layca_torch.LaycaWrapper(torch.optim.SGD([{"params": [p], "weight_decay": wd}], lr=0.1), lr=0.1)
        for p, wd in zip(layers, (0.0, 0.5))
    ]
    for g in gradients((5, 3), 3):
        for p, optimizer in zip(layers, wrapped):
            p.grad = g.clone()
            optimizer.step()
    torch.testing.assert_close(layers[0].detach(), layers[1].detach(), rtol=1e-5, atol=1e-6)

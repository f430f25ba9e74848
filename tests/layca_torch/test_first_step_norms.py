"""Each layer's reference norm is read at its first step: weights loaded after the optimizer is built (the
order of many fine-tuning scripts) keep their norms, and ``reset_layer_norms`` re-reads them mid-run."""

import pytest
import torch

import layca_torch

LR = 1e-3


def net(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def pretrained():
    """Weights of another initialization, three times larger: norms far from a fresh model's."""
    return {k: 3 * v for k, v in net(seed=1).state_dict().items()}


def layer_norms(model):
    return [float(p.norm()) for p in model.parameters() if p.ndim >= 2]


def inputs():
    return torch.randn(32, 6, generator=torch.Generator().manual_seed(2))


def one_step(model, optimizer):
    optimizer.zero_grad()
    model(inputs()).square().mean().backward()
    optimizer.step()


def relative_change(model, before):
    with torch.no_grad():
        return float((model(inputs()) - before).norm() / before.norm())


OPTIMIZERS = {
    "Layca": lambda model: layca_torch.Layca(model.parameters(), lr=LR, base="momentum", momentum=0.9),
    "LaycaWrapper": lambda model: layca_torch.LaycaWrapper(torch.optim.SGD(model.parameters(), lr=LR), lr=LR),
}


def check_one_step_keeps_the_loaded_model(model, optimizer):
    wanted = layer_norms(model)
    with torch.no_grad():
        before = model(inputs())
    one_step(model, optimizer)
    assert layer_norms(model) == pytest.approx(wanted, rel=1e-5)
    assert relative_change(model, before) < 0.01


@pytest.mark.parametrize("make", list(OPTIMIZERS), ids=str)
def test_weights_loaded_after_building_the_optimizer_keep_their_norms(make):
    model = net(seed=0)
    optimizer = OPTIMIZERS[make](model)
    model.load_state_dict(pretrained())
    check_one_step_keeps_the_loaded_model(model, optimizer)


@pytest.mark.parametrize("make", list(OPTIMIZERS), ids=str)
def test_weights_loaded_before_building_the_optimizer_keep_their_norms(make):
    model = net(seed=0)
    model.load_state_dict(pretrained())
    check_one_step_keeps_the_loaded_model(model, OPTIMIZERS[make](model))


@pytest.mark.parametrize("make", list(OPTIMIZERS), ids=str)
def test_weights_loaded_mid_run_keep_their_norms_after_reset_layer_norms(make):
    model = net(seed=0)
    optimizer = OPTIMIZERS[make](model)
    for _ in range(3):
        one_step(model, optimizer)
    fresh = layer_norms(model)
    model.load_state_dict(pretrained())
    one_step(model, optimizer)
    assert layer_norms(model) == pytest.approx(fresh, rel=1e-5)  # the norms of the first step, until re-read
    model.load_state_dict(pretrained())
    optimizer.reset_layer_norms()
    check_one_step_keeps_the_loaded_model(model, optimizer)


@pytest.mark.parametrize("make", list(OPTIMIZERS), ids=str)
def test_a_restored_state_supplies_the_norms(make):
    model = net(seed=0)
    optimizer = OPTIMIZERS[make](model)
    one_step(model, optimizer)
    saved, norms = optimizer.state_dict(), layer_norms(model)
    resumed_model = net(seed=0)
    resumed = OPTIMIZERS[make](resumed_model)
    resumed.load_state_dict(saved)
    resumed_model.load_state_dict(pretrained())
    one_step(resumed_model, resumed)
    assert layer_norms(resumed_model) == pytest.approx(norms, rel=1e-5)


@pytest.mark.parametrize("make", list(OPTIMIZERS), ids=str)
def test_a_zero_layer_is_refused_at_its_first_step_before_anything_changes(make):
    model = net(seed=0)
    optimizer = OPTIMIZERS[make](model)
    with torch.no_grad():
        model[2].weight.zero_()  # zero when the first step comes, not when the optimizer was built
    model(inputs()).square().mean().backward()
    before = [p.detach().clone() for p in model.parameters()]
    how = {"Layca": "layca=False", "LaycaWrapper": r"LaycaWrapper\(\.\.\., layers=\[\.\.\.\]\)"}[make]
    with pytest.raises(ValueError, match=f"all zero: .*must be excluded.* {how}"):
        optimizer.step()
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))
    assert not any(optimizer.state.values())


def test_a_group_added_later_reads_its_norms_at_its_first_step():
    model = net(seed=0)
    optimizer = layca_torch.Layca(model[0].parameters(), lr=LR)
    one_step(model, optimizer)
    optimizer.add_param_group({"params": model[2].parameters()})
    with torch.no_grad():
        model[2].weight.mul_(3.0)
    wanted = float(model[2].weight.norm())
    one_step(model, optimizer)
    assert float(model[2].weight.norm()) == pytest.approx(wanted, rel=1e-5)


def test_asking_for_the_multipliers_before_the_first_step_reads_no_norm():
    model = net(seed=0)
    optimizer = layca_torch.Layca(model.parameters(), lr=LR)
    assert len(optimizer.layer_multipliers()) == 2 and not optimizer.state
    model.load_state_dict(pretrained())
    check_one_step_keeps_the_loaded_model(model, optimizer)

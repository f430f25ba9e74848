"""``LaycaWrapper``'s rate is the rotation rate at the schedule's peak, whether the scheduler was built before or
after wrapping: the reference lr is the group's ``max_lr``, else ``initial_lr``, else its lr at the first step."""

import math

import pytest
import torch

import layca_core
import layca_torch

RATE, STEPS = 0.01, 20
SCHEDULERS = {
    "OneCycleLR": lambda inner: torch.optim.lr_scheduler.OneCycleLR(inner, max_lr=1e-2, total_steps=STEPS),
    "CosineAnnealingLR": lambda inner: torch.optim.lr_scheduler.CosineAnnealingLR(inner, T_max=STEPS),
}


def rotation_rates(scheduler_first, make_scheduler):
    """The tangent of the layer's angle at every step of the schedule."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3)
    inner = torch.optim.AdamW(layer.parameters(), lr=1e-3)
    scheduler = make_scheduler(inner) if scheduler_first else None
    wrapped = layca_torch.LaycaWrapper(inner, lr=RATE)
    scheduler = scheduler or make_scheduler(wrapped)
    generator, rates = torch.Generator().manual_seed(1), []
    for _ in range(STEPS):
        before = layer.weight.detach().clone()
        wrapped.zero_grad()
        layer(torch.randn(16, 5, generator=generator)).square().mean().backward()
        wrapped.step()
        scheduler.step()
        rates.append(math.tan(float(layca_core.step_angle(before.double(), layer.weight.detach().double()))))
    return rates, wrapped


@pytest.mark.parametrize("scheduler_first", [True, False], ids=["scheduler built first", "wrapper built first"])
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_the_asked_rate_is_the_rate_at_the_schedules_peak(name, scheduler_first):
    rates, wrapped = rotation_rates(scheduler_first, SCHEDULERS[name])
    assert max(rates) == pytest.approx(RATE, rel=1e-4)
    assert min(rates) < 0.5 * RATE  # the schedule still schedules the rotation
    restored = layca_torch.LaycaWrapper(torch.optim.AdamW(torch.nn.Linear(5, 3).parameters(), lr=1e-3), lr=RATE)
    restored.load_state_dict(wrapped.state_dict())
    assert restored.param_groups[0]["layca_reference_lr"] == wrapped.param_groups[0]["layca_reference_lr"]


def test_without_a_scheduler_the_reference_is_the_lr_at_the_first_step():
    layer = torch.nn.Linear(5, 3)
    inner = torch.optim.SGD(layer.parameters(), lr=0.1)
    wrapped = layca_torch.LaycaWrapper(inner, lr=RATE)
    inner.param_groups[0]["lr"] = 0.5
    layer(torch.randn(4, 5)).square().mean().backward()
    wrapped.step()
    assert inner.param_groups[0]["layca_reference_lr"] == 0.5
    fresh = layca_torch.LaycaWrapper(torch.optim.SGD(layer.parameters(), lr=0.0), lr=RATE)
    before = layer.weight.detach().clone()
    with pytest.raises(ValueError, match=r"peak \(max_lr, else initial_lr, else lr at the first step\) must be > 0"):
        fresh.step()
    assert torch.equal(layer.weight, before)

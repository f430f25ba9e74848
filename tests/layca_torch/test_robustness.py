"""layca_torch at the edges: decaying momentum, rates changed between steps, overflowing 16-bit state."""

import math

import pytest

torch = pytest.importorskip("torch")

import layca_core  # noqa: E402
import layca_torch  # noqa: E402

PATHS = [pytest.param(True, id="multi-tensor"), pytest.param(False, id="reference")]


def angle(a, b):
    return float(layca_core.step_angle(a.detach().double(), b.detach().double()))


@pytest.mark.parametrize("foreach", PATHS)
def test_a_decaying_momentum_keeps_turning_the_layer_and_never_overflows(foreach):
    """Gradients become exactly zero; the momentum decays for hundreds of steps (was inf at ~355)."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(64, 64) * 0.05)
    norm = p.detach().norm().item()
    optimizer = layca_torch.Layca([p], lr=0.1, base="momentum", momentum=0.9, foreach=foreach)
    for t in range(400):
        p.grad = torch.randn(64, 64) * 1e-3 if t < 5 else torch.zeros(64, 64)
        before = p.detach().clone()
        optimizer.step()
        assert torch.isfinite(p).all(), t
    assert angle(before, p) == pytest.approx(math.atan(0.1), rel=1e-5)
    assert p.detach().norm().item() == pytest.approx(norm, rel=1e-5)


@pytest.mark.parametrize("foreach", PATHS)
@pytest.mark.parametrize("lr", [-0.05, float("nan"), float("inf")])
def test_a_rate_set_between_steps_is_checked_on_every_path(foreach, lr):
    p = torch.nn.Parameter(torch.randn(4, 3))
    optimizer = layca_torch.Layca([p], lr=0.1, foreach=foreach)
    optimizer.param_groups[0]["lr"] = lr
    p.grad = torch.randn(4, 3)
    before = p.detach().clone()
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        optimizer.step()
    assert torch.equal(p.detach(), before)


@pytest.mark.parametrize("foreach", PATHS)
def test_a_negative_tensor_rate_is_an_error(foreach):
    p = torch.nn.Parameter(torch.randn(4, 3))
    optimizer = layca_torch.Layca([p], lr=torch.tensor(0.1), foreach=foreach)
    optimizer.param_groups[0]["lr"] = torch.tensor(-0.1)
    p.grad = torch.randn(4, 3)
    with pytest.raises(RuntimeError, match="lr must be a finite number >= 0"):
        optimizer.step()


@pytest.mark.parametrize("foreach", PATHS)
@pytest.mark.parametrize("lr", [1e20, 1e300])
def test_a_huge_rate_turns_by_nearly_a_right_angle_and_keeps_the_norm(foreach, lr):
    torch.manual_seed(1)
    p = torch.nn.Parameter(torch.randn(8, 6))
    before = p.detach().clone()
    optimizer = layca_torch.Layca([p], lr=lr, foreach=foreach)
    p.grad = torch.randn(8, 6)
    optimizer.step()
    assert angle(before, p) == pytest.approx(math.pi / 2, rel=1e-6)
    assert p.detach().norm().item() == pytest.approx(before.norm().item(), rel=1e-6)


@pytest.mark.parametrize("foreach", PATHS)
def test_an_overflowing_float16_momentum_counts_as_zero_entries(foreach):
    torch.manual_seed(2)
    p = torch.nn.Parameter(torch.randn(16, 8, dtype=torch.float16))
    optimizer = layca_torch.Layca([p], lr=0.1, base="momentum", momentum=0.9, foreach=foreach)
    for _ in range(3):
        large = torch.arange(128).reshape(16, 8) % 2 == 0
        p.grad = torch.where(large, torch.full((16, 8), 6e4), torch.randn(16, 8)).to(torch.float16)
        before = p.detach().clone()
        optimizer.step()
        assert torch.isfinite(p).all()
    assert not torch.isfinite(optimizer.state[p]["momentum"]).all()
    assert angle(before, p) == pytest.approx(math.atan(0.1), rel=5e-3)


@pytest.mark.parametrize(
    ("options", "message"), [({"momentum": -1}, "0 <= momentum < 1"), ({"momentum": 1.0}, "0 <= momentum < 1")]
)
def test_base_hyperparameters_are_checked_at_construction(options, message):
    with pytest.raises(ValueError, match=message):
        layca_torch.Layca([torch.nn.Parameter(torch.randn(3, 3))], base="momentum", **options)

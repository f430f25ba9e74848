"""Muon and the hyperball rule in torch: ``Layca(base="muon")`` (kernels as ``(out, in*kh*kw)`` matrices, Adam for
the biases), ``variant="hyperball"``, and ``LaycaWrapper`` over ``torch.optim.Muon``: each layer turned by exactly the
angle its rule states (docs/algorithm.md)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from layca_conformance import reference  # noqa: E402

RATE = 0.1


def model(bias=True):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, bias=bias), torch.nn.Flatten(), torch.nn.Linear(16, 3, bias=bias)
    ).double()


def step(net, optimizer, seed=1):
    """One step; the weights before and after, and the gradients."""
    net.zero_grad()
    x = torch.randn(5, 2, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=next(net.parameters()).dtype)
    net(x).square().mean().backward()
    before = [p.detach().clone().numpy() for p in net.parameters()]
    grads = [p.grad.clone().numpy() for p in net.parameters()]
    optimizer.step()
    return before, [p.detach().clone().numpy() for p in net.parameters()], grads


def angle(a, b):
    return float(layca_core.step_angle(a, b))


PATHS = {"foreach": {"foreach": True}, "reference": {"foreach": False}, "fused": {"fused": True}}


@pytest.mark.parametrize("path", PATHS)
def test_muon_base_turns_kernels_against_their_out_by_fan_in_matrix_and_steps_biases_by_adam(path):
    net = model()
    if path == "fused":
        net = net.float()
    optimizer = layca_torch.Layca(net.parameters(), lr=RATE, base="muon", other_lr=0.01, **PATHS[path])
    before, after, grads = [[x.astype(np.float64) for x in xs] for xs in step(net, optimizer)]
    tolerance = 1e-5 if path == "fused" else 1e-12  # the fused path runs on float32 layers
    kernel, g = before[0], grads[0]  # (out, in, kh, kw): torch's reference orthogonalises (out, in*kh*kw)
    muon_step = reference.orthogonalize(g.reshape(4, -1).T).T.reshape(g.shape)  # the reference's (..., in, out)
    want = reference.layca_update(kernel, muon_step, RATE, np.linalg.norm(kernel))
    np.testing.assert_allclose(after[0], want, rtol=0, atol=tolerance)
    assert angle(before[2], after[2]) == pytest.approx(math.atan(RATE), rel=tolerance)
    adam = reference.BaseOptimizer("adam", b1=0.9, b2=0.999, eps=1e-7)
    np.testing.assert_allclose(after[1], before[1] - 0.01 * adam.step(0, grads[1]), rtol=tolerance)


@pytest.mark.parametrize("foreach", [True, False])
def test_hyperball_variant_turns_by_its_angle_formula(foreach):
    net = model()
    optimizer = layca_torch.Layca(net.parameters(), lr=RATE, base="sgd", variant="hyperball", foreach=foreach)
    before, after, grads = step(net, optimizer)
    for i in (0, 2):
        assert angle(before[i], after[i]) == pytest.approx(
            reference.hyperball_angle(before[i], grads[i], RATE), rel=1e-10
        )
        assert np.linalg.norm(after[i]) == pytest.approx(np.linalg.norm(before[i]), rel=1e-12)
        np.testing.assert_allclose(
            after[i], reference.hyperball_update(before[i], grads[i], RATE, np.linalg.norm(before[i]))
        )


@pytest.mark.parametrize("variant", ["layca", "hyperball"])
def test_the_wrapper_over_torch_muon_turns_every_layer_by_its_rule(variant):
    net = torch.nn.Sequential(torch.nn.Linear(6, 8, bias=False), torch.nn.Tanh(), torch.nn.Linear(8, 3, bias=False))
    net = net.double()
    inner = torch.optim.Muon(net.parameters(), lr=0.02, weight_decay=0.0)
    wrapped = layca_torch.LaycaWrapper(inner, lr=RATE, variant=variant)
    norms = [float(p.detach().norm()) for p in net.parameters()]
    for seed in (1, 2, 3):
        net.zero_grad()
        net(
            torch.randn(5, 6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        ).square().mean().backward()
        before = [p.detach().clone().numpy() for p in net.parameters()]
        wrapped.step()
        after = [p.detach().numpy() for p in net.parameters()]
        for b, a, r0 in zip(before, after, norms):
            if variant == "layca":
                assert angle(b, a) == pytest.approx(math.atan(RATE), rel=1e-10)
            else:
                assert 0 < angle(b, a) < math.pi
            assert np.linalg.norm(a) == pytest.approx(r0, rel=1e-12)

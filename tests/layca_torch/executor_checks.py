"""What the tests of the fast torch executors (compiled, flat) share: inputs, a turn by a named executor,
closeness to the reference with its guards, and the sweep of step magnitudes from the smallest normal number to the
largest finite one. Tensors live on ``LAYCA_DEVICE``'s device (``scripts/gpu.sh`` sets it to ``cuda``)."""

import math

import pytest
import torch

from layca_conformance.backends import torch_device
from layca_conformance.reference import hyperball_angle

RATE = 3**-3
DEVICE = torch_device()


def tensors(sizes, dtype, seed=0, scale=1.0, device=DEVICE):
    generator = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(n, generator=generator, dtype=torch.float64)).to(device, dtype) for n in sizes]


def turned(name, ws, steps, rates, variant="layca", in_place=False):
    """New weights from ``turn_layers`` with the torch executor called ``name`` (``policy.EXECUTORS``)."""
    import array_api_compat.torch as xp

    from layca_core import engine
    from layca_torch._executors.policy import build_executor

    executor = build_executor(name, xp, ws, in_place=in_place)
    norms = torch.stack([torch.linalg.vector_norm(w.double()) for w in ws])
    rates = torch.as_tensor(rates, dtype=torch.float64, device=ws[0].device)
    return engine.turn_layers(ws, list(steps), rates, norms, executor=executor, variant=variant)


def check_guards_against_the_reference(name, sizes, dtype, variant):
    """The executor ``name`` turns like the reference, through NaN and infinite step entries, a zero step, a step
    parallel to its layer and a zero rate (the last three layers unchanged), never writing weights or steps."""
    ws, steps = tensors(sizes, dtype), tensors(sizes, dtype, seed=1)
    steps[1][3], steps[2][0], steps[2][-1] = float("nan"), float("inf"), -float("inf")
    steps[3] = torch.zeros_like(steps[3])  # zero step
    steps[4] = 3 * ws[4]  # parallel step
    rates = [0.1, 0.2, 3**-3, 0.1, 0.1, 0.0]  # the last layer has a zero rate
    before, given = [w.clone() for w in ws], [s.clone() for s in steps]
    new = turned(name, ws, steps, rates, variant)
    assert_close(new, turned("reference", ws, [s.clone() for s in steps], rates, variant), dtype)
    assert all(torch.equal(w, b) for w, b in zip(ws, before))  # pure unless in_place
    if dtype != torch.float64:  # the one-pass recipe reads the steps only: a base may pass its state
        assert all(torch.equal(s, g) for s, g in zip(steps, given) if not s.isnan().any())
        assert steps[1].isnan().sum() == 1
    frozen = (3, 4, 5) if variant == "layca" else (3, 5)
    assert all(torch.equal(new[i], ws[i]) for i in frozen)
    assert not any(torch.equal(new[i], ws[i]) for i in range(3))


def assert_close(new, expected, dtype):
    eps = torch.finfo(dtype).eps
    for a, b in zip(new, expected):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a.double(), b.double(), rtol=2 * eps, atol=2 * eps * float(b.abs().max()))


def angle(u, v):
    """The angle between two vectors, accurate for small angles."""
    u, v = u.double() / torch.linalg.vector_norm(u.double()), v.double() / torch.linalg.vector_norm(v.double())
    return 2 * math.atan2(float(torch.linalg.vector_norm(u - v)), float(torch.linalg.vector_norm(u + v)))


def magnitude_sweep(dtype, size, device=DEVICE):
    """Weights and steps of nine layers whose step entries lie in ``[m, 2m)`` for magnitudes ``m`` from the dtype's
    smallest normal number to its largest power of two, the last step holding the largest finite number."""
    info = torch.finfo(dtype)
    low, high = math.frexp(info.smallest_normal)[1] - 1, math.frexp(info.max)[1] - 2
    magnitudes = [math.ldexp(1.0, round(low + (high - low) * i / 8)) for i in range(9)]
    directions = tensors([size] * len(magnitudes), torch.float64, seed=2, device=device)
    steps = [(d.sign() * (1 + d.abs() / d.abs().max() / 2) * m).to(dtype) for d, m in zip(directions, magnitudes)]
    steps[-1][0] = info.max
    return tensors([size] * len(magnitudes), dtype, seed=3, device=device), steps


def check_magnitude_sweep(ws, steps, new, variant, reference):
    """Every layer turned by ``arctan(RATE)`` (Layca) or by the hyperball angle of its step, with its norm kept, or
    as ``reference()`` turned it (LARS, whose norm cap decides how far it moves; hyperball too)."""
    dtype = ws[0].dtype
    assert all(torch.isfinite(s).all() and torch.isfinite(n).all() for s, n in zip(steps, new))
    if variant != "layca":
        assert_close(new, reference(), dtype)
        if variant == "lars":
            return
    tolerance = 8 * torch.finfo(dtype).eps
    for w, s, n in zip(ws, steps, new):
        turned = (
            math.atan(RATE)
            if variant == "layca"
            else hyperball_angle(w.double().cpu().numpy(), s.double().cpu().numpy(), RATE)
        )
        assert angle(w, n) == pytest.approx(turned, abs=tolerance)
        norms = [float(torch.linalg.vector_norm(v.double())) for v in (n, w)]
        assert norms[0] == pytest.approx(norms[1], rel=tolerance)

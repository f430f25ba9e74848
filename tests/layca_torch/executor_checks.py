"""What the tests of the fast torch executors (Triton, compiled) share: inputs, closeness to the
reference, and the sweep of step magnitudes from the smallest normal number to the largest finite one."""

import math

import pytest
import torch

from layca_conformance.reference import hyperball_angle

RATE = 3**-3


def tensors(sizes, dtype, seed=0, scale=1.0, device="cpu"):
    generator = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(n, generator=generator, dtype=torch.float64)).to(device, dtype) for n in sizes]


def assert_close(new, expected, dtype):
    eps = torch.finfo(dtype).eps
    for a, b in zip(new, expected):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a.double(), b.double(), rtol=2 * eps, atol=2 * eps * float(b.abs().max()))


def angle(u, v):
    """The angle between two vectors, accurate for small angles."""
    u, v = u.double() / torch.linalg.vector_norm(u.double()), v.double() / torch.linalg.vector_norm(v.double())
    return 2 * math.atan2(float(torch.linalg.vector_norm(u - v)), float(torch.linalg.vector_norm(u + v)))


def magnitude_sweep(dtype, size, device="cpu"):
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

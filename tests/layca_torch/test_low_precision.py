"""A bfloat16 layer keeps its norm and turns by ``arctan(lr)`` as well on every torch path as on ``foreach=False``:
each path computes the turn in at least float32 and rounds once to bfloat16.

A layer of more than 16,384 entries (the multi-tensor executor by default, the compiled one with ``fused=True`` on
the CPU), 200 steps at the rates users run (3^-3 with momentum, 3^-5 with Adam): the largest relative drift of its
norm, and the mean relative error of each step's angle against ``arctan(lr)``, within a small margin of the
reference path's (which bfloat16's rounding of the weights alone sets).
"""

import math

import pytest

torch = pytest.importorskip("torch", reason="the torch paths turn torch tensors")

from torch._dynamo.utils import counters  # noqa: E402

import layca_torch  # noqa: E402

STEPS = 200
SHAPE = (200, 100)  # 20,000 entries: above the flat executor's 16,384
RUNS = {"momentum": 3**-3, "adam": 3**-5}
PATHS = {
    "default": ({}, False),
    "fused": ({"fused": True}, False),
    "compiled step": ({}, True),  # torch.compile(optimizer.step): the multi-tensor executor, traced
}


def measure(base, options, compiled=False):
    """``(largest norm drift, mean angle error)`` over ``STEPS`` steps of one bfloat16 layer, both relative."""
    lr = RUNS[base]
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(SHAPE).to(torch.bfloat16))
    optimizer = layca_torch.Layca([w], lr=lr, base=base, alpha=0.0, **options)
    step = torch.compile(optimizer.step) if compiled else optimizer.step
    norm = torch.linalg.vector_norm(w.detach().double())
    generator = torch.Generator().manual_seed(1)
    drift, errors = 0.0, []
    for _ in range(STEPS):
        w.grad = torch.randn(SHAPE, generator=generator).to(torch.bfloat16)
        before = w.detach().double().clone()
        step()
        after = w.detach().double()
        drift = max(drift, abs(float(torch.linalg.vector_norm(after) / norm) - 1))
        u, v = before / torch.linalg.vector_norm(before), after / torch.linalg.vector_norm(after)
        angle = 2 * math.atan2(float(torch.linalg.vector_norm(u - v)), float(torch.linalg.vector_norm(u + v)))
        errors.append(abs(angle / math.atan(lr) - 1))
    return drift, sum(errors) / len(errors)


@pytest.fixture(scope="module")
def reference():
    return {base: measure(base, {"foreach": False}) for base in RUNS}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("base", sorted(RUNS))
def test_a_bfloat16_layer_turns_as_accurately_as_on_the_reference_path(base, path, reference):
    options, compiled = PATHS[path]
    if compiled:
        torch._dynamo.reset()
        counters.clear()
    drift, error = measure(base, options, compiled)
    assert not counters["graph_break"], dict(counters["graph_break"])
    reference_drift, reference_error = reference[base]
    assert reference_drift < 2e-4  # bfloat16 rounds each weight once per step: a few 1e-5 of drift
    assert drift <= 1.5 * reference_drift + 1e-5, (drift, reference_drift)
    assert error <= 1.2 * reference_error + 2e-3, (error, reference_error)

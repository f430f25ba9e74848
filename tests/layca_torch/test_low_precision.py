"""A 16-bit layer keeps its norm and turns by ``arctan(lr)`` as well on every torch path as on ``foreach=False``:
each path computes the turn in at least float32 and rounds once to the layer's dtype.

A layer of more than 16,384 entries (the multi-tensor executor by default, the compiled one with ``fused=True`` on
the CPU), 200 steps at the rates users run (3^-3 with momentum, 3^-5 with Adam): the largest relative drift of its
norm, and the mean relative error of each step's angle against ``arctan(lr)``, within a small margin of the
reference path's (which the rounding of the weights alone sets). ``torch.compile`` runs for bfloat16 only (it
compiles for tens of seconds).
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
    "compiled step": ({}, True),  # torch.compile(optimizer.step): the compiled executor
}


def measure(base, options, compiled=False, dtype=torch.bfloat16):
    """``(largest norm drift, mean angle error)`` over ``STEPS`` steps of one layer of ``dtype``, both relative."""
    lr = RUNS[base]
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(SHAPE).to(dtype))
    optimizer = layca_torch.Layca([w], lr=lr, base=base, alpha=0.0, **options)
    step = torch.compile(optimizer.step) if compiled else optimizer.step
    norm = torch.linalg.vector_norm(w.detach().double())
    generator = torch.Generator().manual_seed(1)
    drift, errors = 0.0, []
    for _ in range(STEPS):
        w.grad = torch.randn(SHAPE, generator=generator).to(dtype)
        before = w.detach().double().clone()
        step()
        after = w.detach().double()
        drift = max(drift, abs(float(torch.linalg.vector_norm(after) / norm) - 1))
        u, v = before / torch.linalg.vector_norm(before), after / torch.linalg.vector_norm(after)
        angle = 2 * math.atan2(float(torch.linalg.vector_norm(u - v)), float(torch.linalg.vector_norm(u + v)))
        errors.append(abs(angle / math.atan(lr) - 1))
    return drift, sum(errors) / len(errors)


DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@pytest.fixture(scope="module")
def reference():
    return {(base, dtype): measure(base, {"foreach": False}, dtype=DTYPES[dtype]) for base in RUNS for dtype in DTYPES}


CASES = [
    (path, dtype) for path in sorted(PATHS) for dtype in sorted(DTYPES) if dtype == "bfloat16" or not PATHS[path][1]
]


@pytest.mark.parametrize(("path", "dtype"), CASES)
@pytest.mark.parametrize("base", sorted(RUNS))
def test_a_16_bit_layer_turns_as_accurately_as_on_the_reference_path(base, path, dtype, reference):
    options, compiled = PATHS[path]
    if compiled:
        torch._dynamo.reset()
        counters.clear()
    drift, error = measure(base, options, compiled, DTYPES[dtype])
    assert not counters["graph_break"], dict(counters["graph_break"])
    reference_drift, reference_error = reference[base, dtype]
    assert reference_drift < 2e-4  # the weights are rounded once per step: a few 1e-5 of drift at most
    assert drift <= 1.5 * reference_drift + 1e-5, (drift, reference_drift)
    assert error <= 1.2 * reference_error + 2e-3, (error, reference_error)

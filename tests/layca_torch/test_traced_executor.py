"""The executor of a step traced by ``torch.compile`` (whole-tensor float64 sums) against the reference executor:
eagerly (its expressions are plain torch), then compiled by inductor on the sweep of step magnitudes from the smallest
normal number to the largest finite one (float32 and bfloat16; a compilation takes seconds)."""

import pytest

torch = pytest.importorskip("torch", reason="the traced executor runs on torch tensors")

import array_api_compat.torch as xp  # noqa: E402

from layca_torch._executors.policy import build_executor  # noqa: E402
from layca_torch._executors.tensors import CHUNK  # noqa: E402
from tests.layca_torch import executor_checks as checks  # noqa: E402
from tests.layca_torch.executor_checks import assert_close, tensors  # noqa: E402

DTYPES = ("float32", "bfloat16", "float16", "float64")
SIZES = (21, 300, 2 * CHUNK + 5, 9000, 9000, 9000)


def turn(ws, steps, rates, variant="layca", traced=True, in_place=False):
    """New weights from ``turn_layers`` with the traced executor or the reference one; ``steps`` as given."""
    return checks.turned("traced" if traced else "reference", ws, steps, rates, variant, in_place)


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_matches_the_reference_with_its_guards_and_never_writes_the_steps(dtype_name, variant):
    checks.check_guards_against_the_reference("traced", SIZES, getattr(torch, dtype_name), variant)


def test_in_place_writes_the_weights_and_matches():
    ws, steps = tensors(SIZES[:3], torch.bfloat16), tensors(SIZES[:3], torch.bfloat16, seed=1)
    expected = turn([w.clone() for w in ws], steps, [0.3] * 3, traced=False)
    new = turn(ws, steps, [0.3] * 3, in_place=True)
    assert all(n is w for n, w in zip(new, ws))
    assert_close(ws, expected, torch.bfloat16)


def test_float64_layers_take_the_two_passes():
    executor = build_executor("traced", xp, [torch.zeros(3, dtype=torch.float64)])
    assert executor.exact_products is False
    assert executor.prepare([torch.zeros(3, dtype=torch.bfloat16)]).exact_products is True


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_compiled_steps_from_the_smallest_normal_to_the_largest_finite_turn_by_arctan_rate(dtype_name):
    torch._dynamo.reset()
    ws, steps = checks.magnitude_sweep(getattr(torch, dtype_name), 300)
    rates = [checks.RATE] * len(ws)
    compiled = torch.compile(lambda w, s: turn(w, s, rates), fullgraph=True)
    new = compiled(ws, steps)
    checks.check_magnitude_sweep(ws, steps, new, "layca", lambda: turn(ws, steps, rates, traced=False))
    torch._dynamo.reset()

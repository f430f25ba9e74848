"""The executor of a step traced by ``torch.compile`` (whole-tensor float64 sums) against the reference executor:
eagerly (its expressions are plain torch), then compiled by inductor on the sweep of step magnitudes from the smallest
normal number to the largest finite one (float32 and bfloat16; a compilation takes seconds)."""

import pytest

torch = pytest.importorskip("torch", reason="the traced executor runs on torch tensors")

import array_api_compat.torch as xp  # noqa: E402

from layca_core import engine  # noqa: E402
from layca_torch._executors.policy import build_executor  # noqa: E402
from layca_torch._executors.tensors import CHUNK  # noqa: E402
from layca_torch._executors.traced_executor import TracedExecutor  # noqa: E402
from tests.layca_torch import executor_checks as checks  # noqa: E402
from tests.layca_torch.executor_checks import assert_close, tensors  # noqa: E402

DTYPES = ("float32", "bfloat16", "float16", "float64")
SIZES = (21, 300, 2 * CHUNK + 5, 9000, 9000, 9000)


def turn(ws, steps, rates, variant="layca", traced=True, in_place=False):
    """New weights from ``turn_layers`` with the traced executor or the reference one; ``steps`` as given."""
    executor = build_executor("traced" if traced else "reference", xp, ws, in_place=in_place)
    assert isinstance(executor, TracedExecutor) == traced
    norms = torch.stack([torch.linalg.vector_norm(w.double()) for w in ws])
    rates = torch.as_tensor(rates, dtype=torch.float64)
    return engine.turn_layers(ws, list(steps), rates, norms, executor=executor, variant=variant)


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_matches_the_reference_with_its_guards_and_never_writes_the_steps(dtype_name, variant):
    dtype = getattr(torch, dtype_name)
    ws, steps = tensors(SIZES, dtype), tensors(SIZES, dtype, seed=1)
    steps[1][3], steps[2][0], steps[2][-1] = float("nan"), float("inf"), -float("inf")
    steps[3] = torch.zeros_like(steps[3])  # zero step
    steps[4] = 3 * ws[4]  # parallel step
    rates = [0.1, 0.2, 3**-3, 0.1, 0.1, 0.0]  # the last layer has a zero rate
    before, given = [w.clone() for w in ws], [s.clone() for s in steps]
    new = turn(ws, steps, rates, variant)
    assert_close(new, turn(ws, [s.clone() for s in steps], rates, variant, traced=False), dtype)
    assert all(torch.equal(w, b) for w, b in zip(ws, before))  # pure unless in_place
    if dtype != torch.float64:  # the one-pass recipe reads the steps only: a base may pass its state
        assert all(torch.equal(s, g) for s, g in zip(steps, given) if not s.isnan().any())
        assert steps[1].isnan().sum() == 1
    frozen = (3, 4, 5) if variant == "layca" else (3, 5)
    assert all(torch.equal(new[i], ws[i]) for i in frozen)
    assert not any(torch.equal(new[i], ws[i]) for i in range(3))


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

"""The flat executor (small CPU layers stacked by shape, float64 one-pass sums) against the reference executor,
and as the policy's choice for small layers in ``layca_torch.Layca``."""

import pytest

torch = pytest.importorskip("torch", reason="the flat executor runs on torch tensors")

import array_api_compat.torch as xp  # noqa: E402

from layca_core import engine  # noqa: E402
from layca_torch._executors import flat_executor  # noqa: E402
from layca_torch._executors.policy import build_executor  # noqa: E402
from tests.layca_torch import executor_checks as checks  # noqa: E402
from tests.layca_torch.executor_checks import assert_close, tensors  # noqa: E402

SIZES = (21, 300, 300, 300, 300, 300, 21)


def turn(ws, steps, rates, variant="layca", flat=True, in_place=False):
    executor = build_executor("flat" if flat else "reference", xp, ws, in_place=in_place)
    norms = torch.stack([torch.linalg.vector_norm(w.double()) for w in ws])
    rates = torch.as_tensor(rates, dtype=torch.float64)
    return engine.turn_layers(ws, list(steps), rates, norms, executor=executor, variant=variant)


@pytest.fixture(params=[1 << 16, 600], ids=["one-batch-per-shape", "two-layers-per-batch"])
def batch_entries(request, monkeypatch):
    monkeypatch.setattr(flat_executor, "BATCH_ENTRIES", request.param)
    return request.param


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16", "float16"])
def test_matches_the_reference_with_its_guards_and_never_writes_the_steps(dtype_name, variant, batch_entries):
    dtype = getattr(torch, dtype_name)
    ws, steps = tensors(SIZES, dtype), tensors(SIZES, dtype, seed=1)
    ws[2] = ws[2].reshape(20, 15).T  # not contiguous
    steps[2] = steps[2].reshape(20, 15).T
    steps[1][3], steps[1][4], steps[5][0] = float("nan"), float("inf"), -float("inf")
    steps[3] = torch.zeros_like(steps[3])  # zero step
    steps[4] = 3 * ws[4]  # parallel step
    rates = [0.1, 0.2, 3**-3, 0.1, 0.1, 0.5, 0.0]  # the last layer has a zero rate
    before, given = [w.clone() for w in ws], [s.clone() for s in steps]
    new = turn(ws, steps, rates, variant)
    assert_close(new, turn(ws, [s.clone() for s in steps], rates, variant, flat=False), dtype)
    assert all(torch.equal(w, b) for w, b in zip(ws, before))
    assert all(torch.equal(s, g) for s, g in zip(steps, given) if not s.isnan().any())
    assert steps[1].isnan().sum() == 1
    frozen = (3, 4, 6) if variant == "layca" else (3, 6)
    assert all(torch.equal(new[i], ws[i]) for i in frozen)
    assert not any(torch.equal(new[i], ws[i]) for i in (0, 1, 2, 5))
    assert all(n.shape == w.shape and n.dtype == w.dtype for n, w in zip(new, ws))


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_in_place_writes_the_weights_and_matches(dtype_name, batch_entries):
    dtype = getattr(torch, dtype_name)
    ws, steps = tensors(SIZES, dtype), tensors(SIZES, dtype, seed=1)
    ws[2], steps[2] = ws[2].reshape(20, 15).T, steps[2].reshape(15, 20)
    expected = turn([w.clone() for w in ws], steps, [0.3] * len(ws), flat=False)
    new = turn(ws, steps, [0.3] * len(ws), in_place=True)
    assert all(n is w for n, w in zip(new, ws))
    assert_close(ws, expected, dtype)


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16", "float16"])
def test_steps_from_the_smallest_normal_to_the_largest_finite_turn_by_arctan_rate(dtype_name, variant):
    ws, steps = checks.magnitude_sweep(getattr(torch, dtype_name), 300)
    rates = [checks.RATE] * len(ws)
    new = turn(ws, steps, rates, variant)
    checks.check_magnitude_sweep(ws, steps, new, variant, lambda: turn(ws, steps, rates, variant, flat=False))


def test_batches_group_one_shape_and_dtype_within_the_entry_bound(monkeypatch):
    monkeypatch.setattr(flat_executor, "BATCH_ENTRIES", 100)
    ws = [torch.zeros(5, 10), torch.zeros(50), torch.zeros(5, 10), torch.zeros(5, 10)]
    ws += [torch.zeros(5, 10, dtype=torch.bfloat16), torch.zeros(300)]  # the last is larger than a batch: alone
    assert flat_executor._batches(ws) == [[0, 2], [3], [1], [4], [5]]


def test_layca_turns_small_layers_with_it_and_matches_the_reference_path():
    layca_torch = pytest.importorskip("layca_torch")
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(6)]))
    optimizers = [layca_torch.Layca(m.parameters(), base="momentum", foreach=f) for m, f in zip(models, (None, False))]
    for _ in range(3):
        for model, optimizer in zip(models, optimizers):
            optimizer.zero_grad()
            model(torch.randn(4, 16, generator=torch.Generator().manual_seed(1))).square().mean().backward()
            model[0].weight.grad[0, 0] = float("nan")
            optimizer.step()
    chosen = engine.executors_for(xp, [m.weight for m in models[0]])
    assert [type(e).__name__ for e, _ in chosen] == ["FlatExecutor"]
    for p, q in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)

"""Each base direction is written once (``layca_core.directions``) over batched primitives: its per-tensor
form (array-API primitives) and its multi-tensor form (``torch._foreach_*`` primitives) agree to a few ulps,
for every base and dtype, on random and extreme inputs, and the multi-tensor form updates the states in place."""

import math

import pytest

torch = pytest.importorskip("torch", reason="the multi-tensor primitives run on torch tensors")

import layca_core  # noqa: E402
from layca_core.primitives import ARRAY  # noqa: E402
from layca_torch._executors.bases import TORCH, base_steps, other_steps  # noqa: E402
from tests.base_values import NON_DEFAULT  # noqa: E402

BASES = NON_DEFAULT
DTYPES = ("float32", "float64", "bfloat16", "float16")
SIZES = (1, 7, 33, 300)
ULPS = 8


def magnitude(kind, dtype):
    info = torch.finfo(dtype)
    extremes = {"tiny": 4 * info.smallest_normal, "huge": math.sqrt(info.max) / 4, "zeros": 0.0}
    return extremes.get(kind, 1.0)


def gradients(kind, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    grads = [
        (magnitude(kind, dtype) * torch.randn(n, generator=generator, dtype=torch.float64)).to(dtype) for n in SIZES
    ]
    if kind == "non-finite":
        grads[1][2], grads[2][0], grads[3][5] = float("nan"), float("inf"), -float("inf")
    return grads


def assert_close(multi, single, dtype):
    eps = torch.finfo(dtype).eps
    for a, b in zip(multi, single):
        assert a.dtype == b.dtype and a.shape == b.shape
        scale = float(b.double().abs().nan_to_num(posinf=0.0).max()) if b.numel() else 0.0
        torch.testing.assert_close(a.double(), b.double(), rtol=ULPS * eps, atol=ULPS * eps * scale, equal_nan=True)


def per_tensor(base, grads, states, guard):
    """The core's per-tensor form: ``base.update`` one tensor at a time (the gradient guard of the same primitives)."""
    grads = ARRAY.finite(grads) if guard else grads
    pairs = [base.update(g, s) for g, s in zip(grads, states)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@pytest.mark.parametrize("kind", ["random", "tiny", "huge", "zeros", "non-finite"])
@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("name", sorted(BASES))
def test_multi_tensor_steps_match_the_per_tensor_form(name, dtype_name, kind):
    dtype = getattr(torch, dtype_name)
    base = layca_core.direction(name, **BASES[name])
    single = [base.init(g) for g in gradients("random", dtype, 0)]
    multi = [base.init(g) for g in gradients("random", dtype, 0)]
    for step in range(3):
        grads = gradients(kind, dtype, seed=step + 1)
        before = [g.clone() for g in grads]
        tensors = [list(state) for state in multi]
        steps = base_steps(base, grads, multi, guard=True, owned=True)
        expected, single = per_tensor(base, grads, single, guard=True)
        assert_close(steps, expected, dtype)
        for new, old in zip(single, multi):
            assert_close(list(old), list(new), dtype)
        assert all(torch.equal(g, b) or torch.isnan(b).any() for g, b in zip(grads, before))  # gradients never written
        assert all(a is b for old, new in zip(tensors, multi) for a, b in zip(old, new))  # states updated in place
        assert all(torch.isfinite(s).all() for s in steps) or kind == "huge"


@pytest.mark.parametrize("name", sorted(BASES))
def test_owned_steps_never_share_memory_with_states_or_gradients(name):
    base = layca_core.direction(name, **BASES[name])
    grads = gradients("random", torch.float32, 1)
    states = [base.init(g) for g in grads]
    shared = {t.data_ptr() for t in grads} | {t.data_ptr() for state in states for t in state if t.ndim}
    assert not {s.data_ptr() for s in base_steps(base, grads, states, guard=False, owned=True)} & shared
    unowned = base_steps(base, grads, states, guard=False, owned=False)
    if name in ("sgd", "momentum", "amom"):  # the step is the gradient or the buffer: no copy when only read
        assert {s.data_ptr() for s in unowned} <= shared


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("name", sorted(BASES))
def test_the_non_layer_rule_matches_the_per_tensor_form(name, dtype_name):
    dtype = getattr(torch, dtype_name)
    base = layca_core.direction(name, **BASES[name])
    params, grads = gradients("random", dtype, 5), gradients("random", dtype, 6)
    grads[2][0] = float("nan")  # not guarded, as in torch.optim: the parameter becomes NaN on both paths
    steps, _ = per_tensor(base, grads, [base.init(g) for g in grads], guard=False)
    expected = ARRAY.descended(params, steps, 0.1)
    other_steps(params, grads, [base.init(g) for g in grads], 0.1, base=base)
    assert_close(params, expected, dtype)
    assert torch.isnan(params[2]).any()


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_the_gradient_guard_zeroes_the_same_entries(dtype_name):
    grads = gradients("non-finite", getattr(torch, dtype_name), 1)
    multi, single = TORCH.finite(grads), ARRAY.finite(grads)
    assert all(torch.equal(a, b) for a, b in zip(multi, single))
    assert multi[0] is grads[0] and multi[1] is not grads[1]  # clean tensors are not copied on the CPU


def test_steps_written_into_scratch_are_the_same_and_reuse_its_tensors():
    """With ``scratch`` (the optimizer's, kept between steps) Adam's layer steps are written into the same tensors at
    every step, and equal the steps made without it."""
    base = layca_core.direction("adam", **BASES["adam"])
    keys = list(range(len(SIZES)))
    scratch: dict = {}
    states = {kind: [base.init(g) for g in gradients("random", torch.float32, 0)] for kind in ("kept", "fresh")}
    pointers = None
    for step in range(3):
        grads = gradients("random", torch.float32, step + 1)
        kept = base_steps(
            base, grads, states["kept"], guard=True, owned=False, scale_free=True, scratch=(scratch, keys)
        )
        fresh = base_steps(base, grads, states["fresh"], guard=True, owned=False, scale_free=True)
        assert all(torch.equal(a, b) for a, b in zip(kept, fresh))
        assert pointers is None or pointers == [s.data_ptr() for s in kept]
        pointers = [s.data_ptr() for s in kept]
    assert set(scratch) == set(keys)

"""The compiled executor against the reference executor: in an eager step (its ``torch.compile`` kernels), inside a
step ``torch.compile`` traces (its kernels as whole-tensor expressions, on the sweep of step magnitudes from the
smallest normal number to the largest finite one), and through ``layca_torch.Layca(fused=True)``.

Each dtype compiles the kernels once per process (seconds), and a traced turn compiles for seconds: the tests share
sizes and dtypes.
"""

import pytest

torch = pytest.importorskip("torch", reason="the compiled executor runs on torch tensors")

import array_api_compat.torch as xp  # noqa: E402

import layca_core  # noqa: E402
from layca_torch._executors import compiled_kernels  # noqa: E402
from layca_torch._executors.compiled_executor import Pending  # noqa: E402
from layca_torch._executors.multi_tensor import TorchExecutor  # noqa: E402
from layca_torch._executors.policy import build_executor  # noqa: E402
from layca_torch._executors.tensors import CHUNK  # noqa: E402
from tests.layca_torch import executor_checks as checks  # noqa: E402
from tests.layca_torch.executor_checks import assert_close, tensors  # noqa: E402

DTYPES = ("float32", "bfloat16", "float16", "float64")
SIZES = (21, 300, 2 * CHUNK + 5, 9000, 9000, 9000)


def turn(ws, steps, rates, variant="layca", compiled=True, in_place=False):
    """New weights from ``turn_layers`` with the compiled executor or the reference one; ``steps`` as given."""
    return checks.turned("compiled" if compiled else "reference", ws, steps, rates, variant, in_place)


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_matches_the_reference_with_its_guards_and_never_writes_the_steps(dtype_name, variant):
    checks.check_guards_against_the_reference("compiled", SIZES, getattr(torch, dtype_name), variant)


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_in_place_writes_the_weights_and_matches(dtype_name):
    dtype = getattr(torch, dtype_name)
    ws, steps = tensors(SIZES[:3], dtype), tensors(SIZES[:3], dtype, seed=1)
    expected = turn([w.clone() for w in ws], steps, [0.3] * 3, compiled=False)
    new = turn(ws, steps, [0.3] * 3, in_place=True)
    assert all(n is w for n, w in zip(new, ws))
    assert_close(ws, expected, dtype)


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_steps_from_the_smallest_normal_to_the_largest_finite_turn_by_arctan_rate(dtype_name, variant):
    ws, steps = checks.magnitude_sweep(getattr(torch, dtype_name), 300)
    rates = [checks.RATE] * len(ws)
    new = turn(ws, steps, rates, variant)
    checks.check_magnitude_sweep(ws, steps, new, variant, lambda: turn(ws, steps, rates, variant, compiled=False))


@pytest.mark.skipif(checks.DEVICE != "cpu", reason="on CUDA every layer takes the cleaning kernels (below)")
def test_in_an_eager_step_only_layers_whose_step_holds_a_non_finite_entry_take_the_cleaning_kernels(monkeypatch):
    original = compiled_kernels.kernels
    cleaning, cleaned = original(finite=True), []
    spy = compiled_kernels.Kernels(
        lambda w, x: cleaned.append(("sums", w.numel())) or cleaning.sums(w, x),
        lambda w, *rest: cleaned.append(("combined", w.numel())) or cleaning.combined(w, *rest),
        cleaning.combine_,
    )
    monkeypatch.setattr(compiled_kernels, "kernels", lambda finite=False: spy if finite else original())
    ws, steps = tensors(SIZES[:3], torch.float32), tensors(SIZES[:3], torch.float32, seed=1)
    steps[1][3] = float("nan")
    expected = turn(ws, [s.clone() for s in steps], [0.1] * 3, compiled=False)
    assert_close(turn(ws, steps, [0.1] * 3), expected, torch.float32)
    assert cleaned == [("sums", SIZES[1]), ("combined", SIZES[1])]


@pytest.fixture
def as_on_cuda(monkeypatch):
    """Executors built as on CUDA, where nothing may be read on the host (CPU tensors still)."""
    original = TorchExecutor.__init__

    def without_host_reads(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.host_checks = False

    monkeypatch.setattr(TorchExecutor, "__init__", without_host_reads)


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_as_on_cuda_every_layer_takes_the_cleaning_kernels_and_matches_the_reference(as_on_cuda, dtype_name):
    executor = build_executor("compiled", xp, [torch.zeros(3)])
    assert executor.kernels is compiled_kernels.kernels(finite=True)
    momentum, grads = layca_core.direction("momentum", momentum=0.9), [torch.ones(3)]
    steps = executor.base_steps(momentum, grads, [momentum.init(grads[0])])
    assert not isinstance(steps, Pending)  # the multi-tensor executor's base step, not folded into the sums
    checks.check_guards_against_the_reference("compiled", SIZES, getattr(torch, dtype_name), "layca")
    ws, steps = checks.magnitude_sweep(getattr(torch, dtype_name), 300)
    rates = [checks.RATE] * len(ws)
    new = turn(ws, steps, rates)
    checks.check_magnitude_sweep(ws, steps, new, "layca", lambda: turn(ws, steps, rates, compiled=False))


def test_float64_and_eager_non_contiguous_layers_take_the_two_pass_primitives(monkeypatch):
    executor = build_executor("compiled", xp, [torch.zeros(3, dtype=torch.float64)])
    assert executor.exact_products is False
    assert executor.writes_steps is False  # two passes on the CPU, read-only
    assert executor.prepare([torch.zeros(3, dtype=torch.bfloat16)]).exact_products is True
    assert executor.prepare([torch.zeros(4, 3).T]).exact_products is False
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)  # as inside a step torch.compile traces
    traced = build_executor("compiled", xp, [torch.zeros(4, 3).T])
    assert traced.exact_products is True  # whole tensors, of any layout
    assert traced.kernels is compiled_kernels.PLAIN  # no compilation nested in the traced one
    assert traced.prepare([torch.zeros(3, dtype=torch.float64)]).writes_steps is True  # two passes, cleaned in place


def test_a_traced_turn_matches_the_reference_with_its_guards(monkeypatch):
    """Inside ``torch.compile``: NaN and infinite step entries read as 0 by the kernels, inductor-fused."""
    torch._dynamo.reset()
    turned = checks.turned
    traced = torch.compile(turned, fullgraph=True)
    monkeypatch.setattr(checks, "turned", lambda name, *args: (traced if name == "compiled" else turned)(name, *args))
    checks.check_guards_against_the_reference("compiled", SIZES, torch.float32, "layca")
    torch._dynamo.reset()


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_traced_steps_from_the_smallest_normal_to_the_largest_finite_turn_by_arctan_rate(dtype_name):
    torch._dynamo.reset()
    ws, steps = checks.magnitude_sweep(getattr(torch, dtype_name), 300)
    rates = [checks.RATE] * len(ws)
    traced = torch.compile(lambda w, s: turn(w, s, rates), fullgraph=True)
    new = traced(ws, steps)
    checks.check_magnitude_sweep(ws, steps, new, "layca", lambda: turn(ws, steps, rates, compiled=False))
    torch._dynamo.reset()


def wide_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(160, 128), torch.nn.Tanh(), torch.nn.Linear(128, 3))


@pytest.mark.parametrize("base", ["momentum", "adam", "amom", "sgd", "nesterov", "rmsprop", "adagrad"])
def test_layca_fused_matches_the_multi_tensor_step_and_runs_the_kernels(monkeypatch, base):
    """Weights and states as the multi-tensor step's, NaN gradient entries zeroed before the base (also where the
    base step is taken inside the compiled sums)."""
    layca_torch = pytest.importorskip("layca_torch")
    calls = []
    original = compiled_kernels.kernels
    kernels = original()
    counting = compiled_kernels.Kernels(
        kernels.sums, kernels.combined, lambda *args: calls.append(args[0].numel()) or kernels.combine_(*args)
    )
    monkeypatch.setattr(compiled_kernels, "kernels", lambda finite=False: original(finite) if finite else counting)
    folded, stepped_sums, stepped_combine_ = [], compiled_kernels.stepped_sums, compiled_kernels.stepped_combine_
    monkeypatch.setattr(
        compiled_kernels,
        "stepped_sums",
        lambda b: lambda w, *rest: folded.append(w.numel()) or stepped_sums(b)(w, *rest),
    )
    monkeypatch.setattr(  # a folded base step is written by the apply, which counts as the kernels' apply
        compiled_kernels,
        "stepped_combine_",
        lambda b: lambda w, *rest: calls.append(w.numel()) or stepped_combine_(b)(w, *rest),
    )
    models = [wide_model(), wide_model()]
    optimizers = [layca_torch.Layca(m.parameters(), base=base, fused=fused) for m, fused in zip(models, (True, False))]
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(8, 160, generator=generator)
        for model, optimizer in zip(models, optimizers):
            optimizer.zero_grad()
            model(x).square().mean().backward()
            model[0].weight.grad[0, 0] = float("nan")  # zeroed before the base sees it, as on every path
            optimizer.step()
    assert calls == [160 * 128] * 3  # the 384-entry layer takes the multi-tensor executor
    # the base step is formed in the sums' loop where the state is layer-sized tensors (not Adam's counter, not SGD's)
    assert folded == ([] if base in ("adam", "sgd") else [160 * 128] * 3)
    for p, q in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    for p, q in zip(*(m.parameters() for m in models)):
        for key, value in optimizers[0].state[p].items():
            torch.testing.assert_close(value, optimizers[1].state[q][key], rtol=1e-5, atol=1e-7)


def test_fused_option_is_a_group_key_and_contradictions_are_refused():
    layca_torch = pytest.importorskip("layca_torch")
    model = wide_model()
    optimizer = layca_torch.Layca(model.parameters(), fused=True)
    assert [g["fused"] for g in optimizer.param_groups] == [True]
    assert optimizer.state_dict()["param_groups"][0]["fused"] is True
    with pytest.raises(ValueError, match="fused=True and foreach=False contradict"):
        layca_torch.Layca(model.parameters(), fused=True, foreach=False)


@pytest.mark.parametrize("layout", ["channels_last", "bfloat16"])
def test_layca_fused_on_channels_last_and_bfloat16_layers_matches_the_multi_tensor_step(layout):
    layca_torch = pytest.importorskip("layca_torch")
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
        model(torch.randn(1, 64, 5, 5))
        if layout == "channels_last":  # 64 x 64 x 3 x 3 weights, not contiguous: the two-pass primitives
            model = model.to(memory_format=torch.channels_last)
        else:
            model = model.to(torch.bfloat16)
        models.append(model)
    if layout == "channels_last":
        assert not models[0][0].weight.is_contiguous()
    dtype = next(models[0].parameters()).dtype
    optimizers = [layca_torch.Layca(m.parameters(), base="momentum", fused=f) for m, f in zip(models, (True, False))]
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(4, 64, 5, 5, generator=generator).to(dtype)
        for model, optimizer in zip(models, optimizers):
            optimizer.zero_grad()
            model(x).float().square().mean().backward()
            optimizer.step()
    eps = torch.finfo(dtype).eps
    for p, q in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(p, q, rtol=4 * eps, atol=4 * eps * float(q.abs().max()))


def test_a_base_step_that_overflows_in_the_sums_loop_counts_its_non_finite_entries_as_zero():
    layca_torch = pytest.importorskip("layca_torch")
    models = [wide_model(), wide_model()]
    optimizers = [layca_torch.Layca(m.parameters(), base="momentum", fused=f) for m, f in zip(models, (True, False))]
    for model, optimizer in zip(models, optimizers):
        model(torch.randn(8, 160, generator=torch.Generator().manual_seed(1))).square().mean().backward()
        optimizer.step()
        weight = model[0].weight
        optimizer.state[weight]["momentum"][0, :3] = torch.finfo(torch.float32).max
        weight.grad[0, :3] = torch.finfo(torch.float32).max  # 0.9 max + max overflows to inf
        optimizer.step()
    fused, multi_tensor = (m[0].weight for m in models)
    assert torch.isfinite(fused).all()
    torch.testing.assert_close(fused, multi_tensor, rtol=1e-5, atol=1e-6)
    buffers = [o.state[m[0].weight]["momentum"] for o, m in zip(optimizers, models)]
    assert torch.isinf(buffers[0][0, :3]).all()  # the state keeps what the base computed, as on every path
    torch.testing.assert_close(buffers[0], buffers[1], rtol=1e-5, atol=1e-7)

"""The Triton executor against the reference executor: on CUDA, else on CPU tensors in triton's interpreter.

Without a GPU, the kernel tests run in one subprocess with ``TRITON_INTERPRET=1``: the setting must
come before triton is first imported, which another test (``torch.compile``) may already have done.
"""

import importlib
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="the Triton executor runs on torch tensors")
pytest.importorskip("triton", reason="triton is not installed (pip install 'layca[triton]')")

import array_api_compat.torch as xp  # noqa: E402

from layca_core import engine  # noqa: E402
from layca_core.engine import executors_for  # noqa: E402
from layca_torch._executors.policy import build_executor  # noqa: E402
from layca_torch._executors.triton_executor import TritonExecutor  # noqa: E402
from tests.layca_torch import executor_checks as checks  # noqa: E402
from tests.layca_torch.executor_checks import assert_close  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = ("float32", "float64", "bfloat16", "float16")
SIZES = (1, 21, 300, 9000)  # 9000 spans two rows of the kernels' table
IN_PROCESS = DEVICE == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"
kernel_test = pytest.mark.skipif(not IN_PROCESS, reason="run by test_kernels_in_the_interpreter, in a subprocess")


@pytest.fixture
def kernels():
    return importlib.import_module("layca_torch._executors.triton_kernels")


@pytest.mark.skipif(IN_PROCESS, reason="the kernel tests run in this process")
def test_kernels_in_the_interpreter():
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]
    result = subprocess.run(command, env={**os.environ, "TRITON_INTERPRET": "1"}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def tensors(sizes, dtype, seed=0, scale=1.0):
    return checks.tensors(sizes, dtype, seed, scale, DEVICE)


def turn(ws, steps, rates, variant="layca", triton=True, in_place=False):
    """New weights from ``turn_layers`` with the Triton executor (``triton``) or the reference one."""
    executor = build_executor("triton" if triton else "reference", xp, ws, in_place=in_place)
    assert isinstance(executor, TritonExecutor) == triton
    norms = torch.stack([torch.linalg.vector_norm(w.double()) for w in ws]).to(DEVICE)
    rates = torch.as_tensor(rates, dtype=torch.float64, device=DEVICE)
    return engine.turn_layers(ws, [s.clone() for s in steps], rates, norms, executor=executor, variant=variant)


SIGNATURES = {
    "_sums_kernel": {"table": "*i64", "w_base": "*bf16", "x_base": "*fp32", "out": "*fp64", "layers": "i32"},
    "_combine_kernel": {"table": "*i64", "w_base": "*fp16", "x_base": "*bf16", "o_base": "*fp16"}
    | {name: "*fp64" for name in ("a", "b", "factors")},
}


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1", reason="the interpreter compiles nothing")
@pytest.mark.parametrize("name", SIGNATURES)
def test_kernels_compile_for_an_h100_without_one_with_vector_loads(kernels, name):
    triton = importlib.import_module("triton")
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    constants = {"BLOCK": kernels.BLOCK, "TILES": kernels.TILES, "ALIGNED": True}
    signature = SIGNATURES[name] | dict.fromkeys(constants, "constexpr")
    aligned = {(i,): [["tt.divisibility", 16]] for i in range(len(SIGNATURES[name]))}  # as torch allocates
    source = ASTSource(getattr(kernels, name), signature, constants, aligned)
    ptx = triton.compile(source, target=GPUTarget("cuda", 90, 32)).asm["ptx"]
    assert "ld.global.v4" in ptx and ("add.f64" in ptx) == ("sums" in name)


@kernel_test
@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_matches_the_reference_with_its_guards(dtype_name, variant):
    dtype = getattr(torch, dtype_name)
    ws = tensors(SIZES + (50, 50, 50), dtype)
    steps = tensors(SIZES + (50, 50, 50), dtype, seed=1)
    steps[1][3], steps[2][0], steps[2][1] = float("nan"), float("inf"), -float("inf")
    steps[4] = torch.zeros_like(steps[4])  # zero step
    steps[5] = 3 * ws[5]  # parallel step
    rates = [0.1, 0.2, 3**-3, 0.5, 0.1, 0.1, 0.0]  # the last layer has a zero rate
    before = [w.clone() for w in ws]
    new = turn(ws, steps, rates, variant)
    assert_close(new, turn(ws, steps, rates, variant, triton=False), dtype)
    assert all(torch.equal(w, b) for w, b in zip(ws, before))  # pure unless in_place
    frozen = (4, 5, 6) if variant == "layca" else (4, 6)
    assert all(torch.equal(new[i], ws[i]) for i in frozen)
    assert not any(torch.equal(new[i], ws[i]) for i in range(1, 4))  # a 1-entry layer is parallel to any step


@kernel_test
def test_views_at_any_element_offset():
    flat = tensors([9000 + 9000 + 2], torch.bfloat16)[0]
    ws, first = [flat[1:9001], flat[9001:9002], flat[9002:]], flat[0].clone()  # offsets 1, 9001, 9002: no vector loads
    steps = tensors((9000, 1, 9000), torch.bfloat16, seed=1)
    expected = turn([w.clone() for w in ws], steps, [0.3] * 3, triton=False)
    turn(ws, steps, [0.3] * 3, in_place=True)
    assert_close(ws, expected, torch.bfloat16)
    assert flat[0] == first


@kernel_test
def test_mixed_dtypes_in_one_call_and_in_place():
    dtypes = (torch.float32, torch.bfloat16, torch.float16, torch.float32)
    ws = [tensors([n], d, seed=i)[0] for i, (n, d) in enumerate(zip((40, 9000, 7, 300), dtypes))]
    steps = [tensors([w.numel()], w.dtype, seed=10 + i)[0] for i, w in enumerate(ws)]
    expected = turn([w.clone() for w in ws], steps, [0.3] * 4, triton=False)
    new = turn(ws, steps, [0.3] * 4, in_place=True)
    assert all(n is w for n, w in zip(new, ws))
    for w, e in zip(ws, expected):
        assert_close([w], [e], w.dtype)


@kernel_test
@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_steps_from_the_smallest_normal_to_the_largest_finite_turn_by_arctan_rate(dtype_name, variant):
    ws, steps = checks.magnitude_sweep(getattr(torch, dtype_name), 64, DEVICE)
    rates = [checks.RATE] * len(ws)
    new = turn(ws, steps, rates, variant)
    checks.check_magnitude_sweep(ws, steps, new, variant, lambda: turn(ws, steps, rates, variant, triton=False))


@kernel_test
def test_layca_torch_optimizer_runs_the_kernels(monkeypatch, kernels):
    layca_torch = pytest.importorskip("layca_torch")
    launches = []
    combine = kernels.combine
    monkeypatch.setattr(kernels, "combine", lambda *args: launches.append(1) or combine(*args))
    monkeypatch.setenv("LAYCA_TRITON", "1")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 9), torch.nn.Tanh(), torch.nn.Linear(9, 2)).to(DEVICE)
    twin = [p.detach().clone().requires_grad_() for p in model.parameters()]
    optimizers = [
        layca_torch.Layca(params, lr=0.1, base="momentum", momentum=0.9, foreach=foreach)
        for params, foreach in ((model.parameters(), None), (twin, False))
    ]
    for _ in range(2):
        inputs = torch.randn(5, 6, device=DEVICE)
        for params, optimizer in zip((list(model.parameters()), twin), optimizers):
            optimizer.zero_grad()
            torch.func.functional_call(
                model, dict(zip(("0.weight", "0.bias", "2.weight", "2.bias"), params)), inputs
            ).square().sum().backward()
            optimizer.step()
    assert len(launches) == 2
    for p, q in zip(model.parameters(), twin):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_the_triton_executor_needs_the_interpreter_off_cuda(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="on cpu tensors needs TRITON_INTERPRET=1"):
        build_executor("triton", xp, [torch.zeros(3)])
    monkeypatch.setenv("LAYCA_TRITON", "1")
    with pytest.raises(ValueError, match="on cpu tensors needs TRITON_INTERPRET=1"):
        executors_for(xp, [torch.zeros(3)])
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    ((executor, _),) = executors_for(xp, [torch.zeros(3)])
    assert isinstance(executor, TritonExecutor)


@kernel_test
def test_float64_layers_take_the_torch_executors_two_passes():
    executor = build_executor("triton", xp, [torch.zeros(3, device=DEVICE)])
    assert executor.prepare([torch.zeros(3, device=DEVICE, dtype=torch.float64)]).exact_products is False
    assert executor.prepare([torch.zeros(3, device=DEVICE)]).exact_products is True


def test_a_wrong_switch_is_explained(monkeypatch):
    monkeypatch.setenv("LAYCA_TRITON", "yes")
    with pytest.raises(ValueError, match="LAYCA_TRITON must be 0 or 1"):
        executors_for(xp, [torch.zeros(3)])


@pytest.mark.skipif(DEVICE != "cuda", reason="CUDA graphs need a CUDA GPU")
def test_the_step_can_be_captured_in_a_cuda_graph():
    ws, steps = tensors((300, 9000), torch.float32), tensors((300, 9000), torch.float32, seed=1)
    rates = torch.tensor([0.1, 0.2], dtype=torch.float64, device=DEVICE)
    norms = torch.stack([torch.linalg.vector_norm(w.double()) for w in ws])
    expected = turn([w.clone() for w in ws], steps, rates)

    def step():
        executor = build_executor("triton", xp, ws, in_place=True)
        engine.turn_layers(ws, list(steps), rates, norms, executor=executor)

    start = [w.clone() for w in ws]
    step()  # warm-up: compiles the kernels and builds the tables
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    torch._foreach_copy_(ws, start)
    graph.replay()
    assert_close(ws, expected, torch.float32)

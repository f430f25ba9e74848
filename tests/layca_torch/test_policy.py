"""Torch's executor policy: one function's decision table (devices faked by name, so it runs on the CPU), the
grouping of a list of layers, and its registration with the core (``import layca_torch``)."""

import pytest

torch = pytest.importorskip("torch", reason="torch's policy turns torch tensors")

import array_api_compat.torch as xp  # noqa: E402

from layca_core.engine import Executor, executors_for  # noqa: E402
from layca_torch._executors.compiled_executor import CompiledExecutor  # noqa: E402
from layca_torch._executors.flat_executor import FlatExecutor  # noqa: E402
from layca_torch._executors.multi_tensor import TorchExecutor  # noqa: E402
from layca_torch._executors.policy import COMPILED_MIN_SIZE, EXECUTORS, choose_executor  # noqa: E402

BIG, SMALL = COMPILED_MIN_SIZE + 1, COMPILED_MIN_SIZE

TABLE = [
    # (device, dtype, size, options, executor)
    ("cpu", "float32", BIG, {}, "multi_tensor"),
    ("cuda", "float32", BIG, {}, "multi_tensor"),  # torch's default: multi-tensor kernels, fused ones on request
    ("cuda", "bfloat16", BIG, {"fused": False}, "multi_tensor"),
    ("cuda", "float32", BIG, {"fused": True}, "compiled"),  # inductor writes the kernels in Triton
    ("cuda", "float32", SMALL, {"fused": True}, "multi_tensor"),  # a kernel call costs more than a small layer
    ("cuda", "float64", BIG, {"fused": True}, "multi_tensor"),  # one pass needs exact float64 products
    ("cpu", "float32", BIG, {"fused": True}, "compiled"),
    ("cpu", "float16", SMALL, {"fused": True}, "flat"),  # a kernel call costs more than a small layer
    ("cpu", "float32", SMALL, {}, "flat"),  # many small layers: stacked, a few kernels for all
    ("cpu", "float64", SMALL, {}, "multi_tensor"),  # one pass needs exact float64 products
    ("cpu", "float32", SMALL, {"sharded": True}, "multi_tensor"),
    ("cpu", "float32", SMALL, {"compiling": True}, "compiled"),  # whole-tensor sums inductor fuses into the step
    ("cpu", "float32", BIG, {"fused": True, "compiling": True}, "compiled"),  # its kernels uncompiled: none nested
    ("cuda", "bfloat16", BIG, {"compiling": True}, "compiled"),
    ("cpu", "float64", BIG, {"compiling": True}, "multi_tensor"),  # one pass needs exact float64 products
    ("cpu", "float32", BIG, {"compiling": True, "sharded": True}, "multi_tensor"),
    ("cpu", "float32", BIG, {"fused": True, "compiling": True, "sharded": True}, "multi_tensor"),  # sharded, traced
    ("cuda", "float32", BIG, {"fused": True, "compiling": True}, "compiled"),
    ("cpu", "float64", BIG, {"fused": True}, "multi_tensor"),
    ("mps", "float32", BIG, {}, "multi_tensor"),
    ("cuda", "float32", BIG, {"sharded": True}, "multi_tensor"),
    ("cuda", "float32", BIG, {"fused": True, "sharded": True}, "compiled"),  # one all-reduce of the local sums
    ("cpu", "float32", BIG, {"foreach": False}, "reference"),
    ("cuda", "float32", BIG, {"foreach": False}, "reference"),
    ("cpu", "float32", BIG, {"stacked": True}, "reference"),
]


@pytest.mark.parametrize(("device", "dtype", "size", "options", "expected"), TABLE)
def test_the_decision_table(device, dtype, size, options, expected):
    assert choose_executor(device, dtype, size, **options) == expected


def test_every_executor_is_reachable():
    assert {row[-1] for row in TABLE} == set(EXECUTORS)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fused": True, "device": "mps"}, "fused=True runs on CPU and CUDA tensors; got a layer on mps"),
        ({"foreach": False, "sharded": True}, "Sharded layers given as local shards need torch's multi-tensor"),
        ({"stacked": True, "sharded": True}, "Sharded layers given as local shards need torch's multi-tensor"),
    ],
)
def test_impossible_choices_are_refused_with_what_to_do(options, message):
    device = options.pop("device", "cpu")
    with pytest.raises(ValueError, match=message):
        choose_executor(device, "float32", BIG, **options)


def test_layers_are_grouped_by_executor_with_their_indices():
    ws = [torch.zeros(BIG), torch.zeros(3), torch.zeros(BIG, dtype=torch.float64), torch.zeros(7), torch.zeros(BIG)]
    chosen = executors_for(xp, ws, fused=True)
    names = [(type(e).__name__, part) for e, part in chosen]
    assert names == [("CompiledExecutor", [0, 4]), ("FlatExecutor", [1, 3]), ("TorchExecutor", [2])]
    sizes = [3, BIG, 3, 3, 3]  # a shard's size is its whole layer's, so every rank groups alike
    assert [part for _, part in executors_for(xp, ws, fused=True, sizes=sizes)] == [[0, 3, 4], [1], [2]]
    assert [type(e).__name__ for e, _ in executors_for(xp, ws)] == ["TorchExecutor", "FlatExecutor"]


@pytest.mark.parametrize("cls", [TorchExecutor, FlatExecutor, CompiledExecutor], ids=lambda c: c.__name__)
def test_every_torch_executor_implements_the_whole_protocol(cls):
    """``Executor`` declares what the engine calls; every executor the policy builds has all of it (built with the
    shared constructor)."""
    declared = set(Executor.__annotations__) | {name for name in vars(Executor) if not name.startswith("_")}
    executor = object.__new__(cls)
    TorchExecutor.__init__(executor, xp, torch.device("cpu"))
    assert not {member for member in declared if not hasattr(executor, member)}


def test_sharded_torch_layers_are_refused_without_the_multi_tensor_executor():
    with pytest.raises(ValueError, match="foreach=True"):
        executors_for(xp, [torch.zeros(3)], meshes=[("mesh", ())], foreach=False)

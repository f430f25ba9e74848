"""The executor policy: one function's decision table (devices faked by name, so it runs on the CPU), the
grouping of a list of layers, and the engine's use of an executor: only the members ``Executor`` declares,
in the order ``ONE_PASS`` / ``TWO_PASSES`` give."""

import typing

import numpy as np
import pytest

from layca_core.engine import Executor, turn_layers
from layca_core.engine.policy import COMPILED_MIN_SIZE, EXECUTORS, choose_executor, executors_for
from layca_core.engine.reference import ReferenceExecutor
from layca_core.engine.turn import ONE_PASS, SCREENED, TWO_PASSES

BIG, SMALL = COMPILED_MIN_SIZE + 1, COMPILED_MIN_SIZE

TABLE = [
    # (device, dtype, size, options, executor)
    ("cpu", "float32", BIG, {}, "multi_tensor"),
    ("cuda", "float32", BIG, {}, "multi_tensor"),  # the safe GPU default: Triton only on request
    ("cuda", "bfloat16", BIG, {"fused": False}, "multi_tensor"),
    ("cuda", "float32", SMALL, {"fused": True}, "triton"),
    ("cuda", "float64", BIG, {"fused": True}, "multi_tensor"),  # one pass needs exact float64 products
    ("cpu", "float32", BIG, {"fused": True}, "compiled"),
    ("cpu", "float16", SMALL, {"fused": True}, "flat"),  # a kernel call costs more than a small layer
    ("cpu", "float32", SMALL, {}, "flat"),  # many small layers: stacked, a few kernels for all
    ("cpu", "float64", SMALL, {}, "multi_tensor"),  # one pass needs exact float64 products
    ("cpu", "float32", SMALL, {"sharded": True}, "multi_tensor"),
    ("cpu", "float32", SMALL, {"compiling": True}, "multi_tensor"),
    ("cpu", "float32", BIG, {"fused": True, "compiling": True}, "multi_tensor"),  # no nested compilation
    ("cpu", "float64", BIG, {"fused": True}, "multi_tensor"),
    ("mps", "float32", BIG, {}, "multi_tensor"),
    ("cuda", "float32", BIG, {"sharded": True}, "multi_tensor"),
    ("cuda", "float32", BIG, {"fused": True, "sharded": True}, "triton"),
    ("cpu", "float32", BIG, {"foreach": False}, "reference"),
    ("cuda", "float32", BIG, {"foreach": False}, "reference"),
    ("cpu", "float32", BIG, {"torch": False}, "reference"),
    ("cpu", "float32", BIG, {"torch": False, "jax": True}, "xla"),
    ("cpu", "float32", BIG, {"torch": False, "jax": True, "stacked": True}, "reference"),
    ("cpu", "float32", BIG, {"stacked": True}, "reference"),
    ("cpu", "float32", BIG, {"triton": True}, "triton"),  # LAYCA_TRITON=1, a debugging aid
    ("cuda", "float32", BIG, {"fused": True, "triton": False}, "multi_tensor"),  # LAYCA_TRITON=0
    ("cpu", "float32", BIG, {"fused": True, "triton": False}, "compiled"),
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
        ({"torch": False, "sharded": True}, "Sharded layers given as local shards need torch's multi-tensor"),
    ],
)
def test_impossible_choices_are_refused_with_what_to_do(options, message):
    device = options.pop("device", "cpu")
    with pytest.raises(ValueError, match=message):
        choose_executor(device, "float32", BIG, **options)


def test_layers_are_grouped_by_executor_with_their_indices():
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as xp

    ws = [torch.zeros(BIG), torch.zeros(3), torch.zeros(BIG, dtype=torch.float64), torch.zeros(7), torch.zeros(BIG)]
    chosen = executors_for(xp, ws, fused=True)
    names = [(type(e).__name__, part) for e, part in chosen]
    assert names == [("CompiledExecutor", [0, 4]), ("FlatExecutor", [1, 3]), ("TorchExecutor", [2])]
    sizes = [3, BIG, 3, 3, 3]  # a shard's size is its whole layer's, so every rank groups alike
    assert [part for _, part in executors_for(xp, ws, fused=True, sizes=sizes)] == [[0, 3, 4], [1], [2]]
    assert [type(e).__name__ for e, _ in executors_for(xp, ws)] == ["TorchExecutor", "FlatExecutor"]


def test_other_arrays_take_the_reference_executor():
    ws = [np.ones((3, 2)), np.ones(4)]
    ((executor, part),) = executors_for(np, ws)
    assert isinstance(executor, ReferenceExecutor) and part == [0, 1]


DECLARED = set(Executor.__annotations__) | {name for name in vars(Executor) if not name.startswith("_")}


class Recording:
    """An executor that records every member the engine reads and, in order, every method it calls (delegating to
    the reference one)."""

    def __init__(self, inner):
        self.inner, self.used, self.calls = inner, set(), []

    def __getattr__(self, name):
        self.used.add(name)
        member = getattr(self.inner, name)
        if not callable(member):
            return member
        return lambda *args, **kwargs: self.calls.append(name) or member(*args, **kwargs)


@pytest.mark.parametrize(
    ("dtype", "variant", "order"),
    [
        ("float32", "layca", ONE_PASS),  # float64 sums of float32 products: one pass
        ("float32", "lars", ONE_PASS),
        ("float64", "layca", TWO_PASSES["layca"]),
        ("float64", "lars", TWO_PASSES["lars"]),
        ("screened", "layca", SCREENED["layca"]),  # the reference executor told to screen (as the XLA one does)
        ("screened", "lars", SCREENED["lars"]),
        ("float32", "hyperball", ONE_PASS),
        ("float64", "hyperball", TWO_PASSES["hyperball"]),
        ("screened", "hyperball", SCREENED["hyperball"]),
    ],
)
def test_the_engine_uses_only_declared_members_in_the_declared_order(dtype, variant, order):
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    ws = [w.astype(dtype if dtype != "screened" else "float64") for w in ws]
    steps = [rng.standard_normal(w.shape).astype(w.dtype) for w in ws]
    executor = Recording(ReferenceExecutor(np, ws[0]))
    executor.prepare(ws)
    executor.inner.screens = dtype == "screened"
    turn_layers(ws, steps, np.array([0.1, 0.2]), np.array([1.0, 2.0]), executor=executor, variant=variant)
    assert executor.used <= DECLARED, executor.used - DECLARED
    assert [name for name in executor.calls if name not in ("vector", "per_tensor")] == list(order)


def test_the_protocol_declares_its_attributes_with_types():
    hints = typing.get_type_hints(Executor)
    assert {"xp", "acc", "exact_products", "writes_steps", "screens"} <= set(hints)
    assert hints["exact_products"] is bool and hints["writes_steps"] is bool and hints["screens"] is bool

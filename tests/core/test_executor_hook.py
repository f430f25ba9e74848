"""The executor hook (``engine.register_executors``, ``engine.executors_for``) and the engine's use of an executor:
only the members ``Executor`` declares, in the order ``ONE_PASS`` / ``TWO_PASSES`` / ``SCREENED`` give."""

import typing

import numpy as np
import pytest

import layca_core
from layca_core import engine
from layca_core.engine import Executor, ReferenceExecutor, executors_for, turn_layers
from layca_core.engine.policy import _POLICIES
from layca_core.engine.turn import ONE_PASS, SCREENED, TWO_PASSES


class Tagged(np.ndarray):
    """An array type of its own, to register a policy for."""


@pytest.fixture
def registered():
    """``Tagged`` arrays registered with a policy that records its arguments; the registry restored afterwards."""
    saved, calls = list(_POLICIES), []

    def policy(xp, ws, **options):
        calls.append(options)
        return [(ReferenceExecutor(xp, ws[0]).prepare(list(ws)), list(range(len(ws))))]

    engine.register_executors(Tagged, policy)
    yield calls
    _POLICIES[:] = saved


def test_a_registered_policy_turns_its_arrays_and_only_them(registered):
    ws = [np.ones((3, 2)).view(Tagged), np.ones(4).view(Tagged)]
    ((executor, part),) = executors_for(np, ws, fused=True, sizes=[6, 4])
    assert part == [0, 1] and isinstance(executor, ReferenceExecutor)
    assert registered == [
        {"stacked": [False, False], "meshes": [None, None], "sizes": [6, 4], "foreach": None, "fused": True,
         "in_place": False}
    ]  # fmt: skip
    executors_for(np, [np.ones(3)])
    assert len(registered) == 1


def test_registering_again_replaces_the_policy(registered):
    engine.register_executors(Tagged, lambda xp, ws, **options: [])
    assert executors_for(np, [np.ones(3).view(Tagged)]) == []
    assert [entry[0] for entry in _POLICIES].count(Tagged) == 1


def test_other_arrays_take_the_reference_executor():
    ws = [np.ones((3, 2)), np.ones(4)]
    ((executor, part),) = executors_for(np, ws)
    assert isinstance(executor, ReferenceExecutor) and part == [0, 1]
    assert executors_for(np, []) == []


def test_sharded_layers_without_a_registered_policy_are_refused_with_what_to_do():
    with pytest.raises(ValueError, match="import its adapter"):
        executors_for(np, [np.ones(3)], meshes=[("mesh", ())])


def test_a_registered_namespace_is_the_arrays_namespace():
    from layca_core._namespace import _NAMESPACES

    saved = list(_NAMESPACES)
    try:
        engine.register_executors(Tagged, lambda xp, ws, **options: [], namespace=np)
        assert layca_core.array_namespace(np.ones(3).view(Tagged)) is np
        assert layca_core.array_namespace(np.ones(3)) is not np  # array-api-compat's, as before
    finally:
        _NAMESPACES[:] = saved
        _POLICIES[:] = [entry for entry in _POLICIES if entry[0] is not Tagged]


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
    assert {"xp", "acc", "exact_products", "writes_steps", "screens", "scales_weights"} <= set(hints)
    assert all(hints[name] is bool for name in ("exact_products", "writes_steps", "screens", "scales_weights"))

"""benchmarks.passes: each primitive timed once per call, the passes of a step within its time."""

import pytest

pytest.importorskip("torch")

from benchmarks import passes  # noqa: E402


def test_a_primitive_that_calls_its_parents_is_timed_once(monkeypatch):
    class Parent:
        def sums(self):
            return 1

    class Child(Parent):
        def sums(self):
            return super().sums() + 1

    monkeypatch.setattr(passes, "CURRENT", passes.defaultdict(float))
    calls = []
    monkeypatch.setattr(passes.time, "perf_counter", lambda: calls.append(1) or float(len(calls)))
    passes._instrumented([Parent, Child])
    assert Child().sums() == 2
    assert passes.CURRENT["sums"] == 1000.0  # one start and one stop, not two of each


def test_a_steps_passes_add_up_to_at_most_its_time(monkeypatch):
    monkeypatch.setattr(passes, "CURRENT", passes.defaultdict(float))
    for cls in passes.executor_classes():
        for name in passes.PASSES:
            if name in vars(cls):
                monkeypatch.setattr(cls, name, vars(cls)[name])  # restored after the test
    passes._instrumented(passes.executor_classes())
    ms = passes.measure("many-small", "momentum", fused=False, steps=1)  # one step: its passes lie within it
    assert {"base_steps", "sums", "combine", "rest", "step"} <= set(ms)
    assert sum(v for k, v in ms.items() if k not in ("rest", "step")) <= ms["step"]
    row = {"set": "many-small", "base": "momentum", "fused": False, "path": "multi_tensor", "ms": ms}
    assert passes.table([row])[2].startswith("| many-small | momentum | ")

"""The benchmarks' shared machinery: interleaved rounds, per-round ratios, a step's peak memory."""

import sys

import numpy as np
import pytest

from benchmarks import timing


def test_steps_alternate_round_by_round_after_warm_up():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in "AB"}
    times = timing.interleaved(steps, lambda _: None, "many-small", rounds=3)
    warmup = timing.ROUNDS["many-small"][0]
    assert calls == ["A", "B"] * (warmup + 3)
    assert [len(times[name]) for name in "AB"] == [3, 3]


def test_ratios_are_taken_within_each_round():
    times = {"layca": [2.0, 9.0, 3.0], "base": [1.0, 3.0, 3.0]}
    assert timing.round_ratios(times, "layca", ["base"]) == {"base": [2.0, 3.0, 1.0]}
    assert timing.describe([1.0, 2.0, 3.0, 4.0, 5.0]) == "3.00x (1.50-4.50)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS is read from /proc (Linux)")
def test_the_peak_of_a_step_counts_what_it_allocates_and_touches():
    megabytes = 64
    grown = timing.peak_rss_bytes(lambda: np.ones(megabytes * 2**20 // 8).sum(), lambda _: None)
    idle = timing.peak_rss_bytes(lambda: None, lambda _: None)
    assert grown >= 0.9 * megabytes * 2**20
    assert idle < 4 * 2**20


def test_every_candidate_gets_a_ratio_to_every_baseline_from_the_same_rounds():
    clock = iter(range(1000))
    steps = {name: ((lambda: next(clock)), (lambda: 0)) for name in ("layca", "layca fused", "sgd", "lars")}
    label = ("torch", "many-small", "float32", "cpu")
    rows = timing.compare(label, steps, ("layca", "layca fused"), lambda _: None, lambda step, sync: 0, rounds=4)
    ratios = {r["optimizer"]: r["ratios"] for r in rows}
    assert [r["optimizer"] for r in rows] == list(steps)
    assert set(ratios["layca"]) == set(ratios["layca fused"]) == {"sgd", "lars"}
    assert all(len(per_round) == 4 for per_round in ratios["layca"].values())
    assert ratios["sgd"] == ratios["lars"] == {}

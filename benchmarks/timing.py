"""Interleaved step timing, pinned threads and a step's peak memory: what every benchmark here shares.

The optimizers of one comparison step in rounds from the same parameters (A B C A B C ...) after
warm-up; a ratio is taken within each round, so the load of a shared machine moves both of its
sides, and a comparison reports the median ratio over rounds with its interquartile range.
This module imports no framework (``benchmarks.revisions`` loads it into other revisions' trees).
"""

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

ROUNDS = {"resnet50": (3, 15), "gpt2-small": (2, 7), "many-small": (5, 30)}  # (warm-up, timed) rounds


def pin_threads(threads: int) -> None:
    """Run on ``threads`` cores: the process's CPU affinity and the thread pools of every framework.

    Call it before importing a framework (their pools read the environment when they start).
    """
    cores = sorted(os.sched_getaffinity(0))
    if threads > len(cores):
        raise ValueError(f"--threads {threads} is more than the {len(cores)} cores this process may use.")
    os.sched_setaffinity(0, cores[:threads])
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


def interleaved(
    steps: dict[str, Callable[[], Any]], sync: Callable[[Any], Any], shape_set: str, rounds: int | None = None
) -> dict[str, list[float]]:
    """Milliseconds of each step, round by round: every step runs once per round, in a fixed order."""
    warmup, default_rounds = ROUNDS[shape_set]
    for _ in range(warmup):
        for step in steps.values():
            sync(step())
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds or default_rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            sync(step())
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """``(first quartile, median, third quartile)``."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4)
    return q1, median, q3


def round_ratios(times: dict[str, list[float]], candidate: str, baselines: Sequence[str]) -> dict[str, list[float]]:
    """Per baseline, the candidate's time over the baseline's in each round."""
    return {b: [c / t for c, t in zip(times[candidate], times[b])] for b in baselines}


def describe(values: Sequence[float]) -> str:
    """``median (q1-q3)`` of ratios."""
    q1, median, q3 = spread(values)
    return f"{median:.2f}x ({q1:.2f}-{q3:.2f})"


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line; peak RSS needs Linux.")


def peak_rss_bytes(step: Callable[[], Any], sync: Callable[[Any], Any]) -> int:
    """How far one step raises the resident set above what the process held before it (Linux).

    The kernel's peak-RSS mark is reset first (``/proc/self/clear_refs``), so earlier steps do not count.
    """
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status_kib("VmRSS")
    sync(step())
    return 1024 * max(_status_kib("VmHWM") - before, 0)


def row(
    framework: str,
    shape_set: str,
    dtype: str,
    device: str,
    optimizer: str,
    round_ms: list[float],
    state_bytes: int,
    peak_bytes: int,
    ratios: dict[str, list[float]] | None = None,
) -> dict:
    """One optimizer's measurements; ``ratios`` (for a Layca step): per baseline, its ratio in each round."""
    return {
        "framework": framework,
        "set": shape_set,
        "dtype": dtype,
        "device": device,
        "optimizer": optimizer,
        "ms": statistics.median(round_ms),
        "round_ms": round_ms,
        "state_mb": state_bytes / 2**20,
        "step_peak_mb": peak_bytes / 2**20,
        "ratios": ratios or {},
    }


def compare(
    label: tuple[str, str, str, str],
    steps: dict[str, tuple[Callable[[], Any], Callable[[], int]]],
    candidates: Sequence[str],
    sync: Callable[[Any], Any],
    peak: Callable[[Callable[[], Any], Callable[[Any], Any]], int],
    rounds: int | None = None,
) -> list[dict]:
    """Time ``steps`` (name -> (step, its state's bytes after stepping)) in the same interleaved rounds; one row per optimizer.

    ``label`` is ``(framework, shape set, dtype, device)``; each candidate's row holds its per-round ratio
    to every step that is not a candidate.
    """
    framework, shape_set, dtype, device = label
    baselines = [name for name in steps if name not in candidates]
    times = interleaved({name: step for name, (step, _) in steps.items()}, sync, shape_set, rounds)
    rows = []
    for name, (step, state_bytes) in steps.items():
        ratios = round_ratios(times, name, baselines) if name in candidates else None
        extra = peak(step, sync)
        rows.append(row(framework, shape_set, dtype, device, name, times[name], state_bytes(), extra, ratios))
        report(rows[-1])
    return rows


def report(measured: dict) -> None:
    """One progress line: the row without its per-round lists."""
    ratios = {b: describe(r) for b, r in measured["ratios"].items()}
    print({**{k: v for k, v in measured.items() if k not in ("round_ms", "ratios")}, **ratios}, flush=True)

"""Median step time after warm-up, and optimizer-state size."""

import statistics
import time
from collections.abc import Callable
from typing import Any

REPEATS = {"resnet50": (3, 10), "gpt2-small": (2, 5), "many-small": (3, 20)}  # (warm-up, timed) steps


def median_ms(step: Callable[[], Any], sync: Callable[[Any], Any], shape_set: str) -> float:
    warmup, repeats = REPEATS[shape_set]
    for _ in range(warmup):
        sync(step())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(step())
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def row(framework: str, shape_set: str, dtype: str, device: str, optimizer: str, ms: float, state_bytes: int) -> dict:
    return {
        "framework": framework,
        "set": shape_set,
        "dtype": dtype,
        "device": device,
        "optimizer": optimizer,
        "ms": ms,
        "state_mb": state_bytes / 2**20,
    }

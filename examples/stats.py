"""Estimates over seeds: a mean with its 95% t interval, paired differences, rank correlation.

Why a t interval: with n = 2 to 5 seeds a bootstrap percentile interval undercovers badly (it can
only span the few observed values: at n = 5 its nominal 95% covers about 84% of normal samples), while the t
interval on the per-seed values (or per-seed paired differences) is exact if they are normal and
robust enough for the small, symmetric spread of accuracies over seeds.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """Mean, standard deviation, n and the 95% t interval of per-seed values."""

    mean: float
    sd: float
    n: int
    low: float
    high: float

    def scaled(self, factor: float) -> "Estimate":
        return Estimate(self.mean * factor, self.sd * factor, self.n, self.low * factor, self.high * factor)

    def text(self, digits: int = 2, unit: str = "") -> str:
        return f"{self.mean:+.{digits}f}{unit} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def estimate(values) -> Estimate:
    """The mean of ``values`` (one per seed) with its two-sided 95% t interval; needs two values or more."""
    values = np.asarray(list(values), dtype=float)
    n = len(values)
    if n < 2:
        raise ValueError(f"an interval over seeds needs at least two seeds; got {n}.")
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, sd, n, mean - half, mean + half)


def paired(a: dict[int, float], b: dict[int, float]) -> Estimate:
    """``a - b`` seed by seed (the seeds both have), as an ``Estimate``: the paired difference."""
    seeds = sorted(set(a) & set(b))
    return estimate(a[seed] - b[seed] for seed in seeds)


def spearman(x, y) -> float:
    """Spearman's rank correlation (ties averaged); 0 when either side is constant (no ranking to agree with)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(stats.spearmanr(x, y).statistic)

"""Confidence intervals for paired latency ratios, distribution-free, numpy only (the run stage has no scipy).

A comparison of two modes on one device is made on samples interleaved in time (``qbench.timing``): pass ``i`` timed
both, so drift that slows pass ``i`` slows both alike and their ratio in that pass cancels it. The per-pass log
ratios are then summarised by the Hodges-Lehmann estimator (the median of their pairwise means, the Walsh averages)
with the exact confidence interval of the Wilcoxon signed-rank test (Hollander & Wolfe, *Nonparametric Statistical
Methods*, 3.2): robust to a pass hit by a burst of other work, and exact for any number of passes, because the
signed-rank statistic's null distribution is counted here, not approximated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CONFIDENCE = 0.95


@lru_cache(maxsize=None)
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """How many of the 2**n sign patterns give each value 0..n(n+1)/2 of the signed-rank statistic."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    for rank in range(1, n + 1):
        for total in range(len(counts) - 1, rank - 1, -1):
            counts[total] += counts[total - rank]
    return tuple(counts)


def critical_rank(n: int, confidence: float = CONFIDENCE) -> int | None:
    """The largest ``c`` with P(T <= c) <= (1 - confidence) / 2 under the null, or None when even c = 0 is too likely
    (too few passes for that confidence: 6 are needed for 95 %)."""
    counts, alpha, total = _signed_rank_counts(n), (1 - confidence) / 2, 2**n
    cumulative, c = 0, None
    for value, count in enumerate(counts):
        cumulative += count
        if cumulative / total > alpha:
            return c
        c = value
    return c


@dataclass(frozen=True)
class Ratio:
    """``a / b`` estimated from paired passes, with its confidence interval (``low`` <= ``estimate`` <= ``high``)."""

    estimate: float
    low: float
    high: float
    passes: int
    confidence: float = CONFIDENCE

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "passes": self.passes,
                "confidence": self.confidence}

    @property
    def width(self) -> float:
        """``high / low``: 1.10 is an interval spanning 10 %."""
        return self.high / self.low

    def __str__(self) -> str:
        return f"x{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


def paired_ratio(a: list[float] | np.ndarray, b: list[float] | np.ndarray, confidence: float = CONFIDENCE
                 ) -> Ratio | None:
    """The ratio of ``a``'s latency to ``b``'s from their per-pass medians (pass ``i`` of both timed together); None
    when there are too few passes for an interval at ``confidence``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1 or not len(a) or np.any(a <= 0) or np.any(b <= 0):
        return None
    logs = np.log(a) - np.log(b)
    n = len(logs)
    c = critical_rank(n, confidence)
    if c is None:
        return None
    i, j = np.triu_indices(n)
    walsh = np.sort((logs[i] + logs[j]) / 2)
    estimate = float(np.median(walsh))
    low, high = float(walsh[c]), float(walsh[len(walsh) - 1 - c])
    return Ratio(math.exp(estimate), math.exp(low), math.exp(high), n, confidence)

"""Which mode to ship on a device: the rules, as pure functions shared by the terminal summary, ``qbench report``
(from files or a store) and ``qbench gate``.

A latency comparison is a claim, so it is made only on samples interleaved in time (``qbench.timing``: the modes of
one model on one device are timed in alternating passes) and carries its confidence interval
(``qbench.intervals``). The rules:

- **Slower** means *confidently slower by more than the practical margin*: the whole 95 % interval of the ratio
  lies above ``1 + MARGIN``. Anything less is a **tie**, and is called one.
- **Fastest within budget**: among the modes within their quality budget, the fastest by estimate and every mode
  not slower than it form the tie set; the pick is the tie set's smallest file, then best quality (a tie on speed
  is settled by what does not drift). A mode whose ratio to float32 spans more than ``UNSTABLE_WIDTH`` is too
  noisy to rank: it is listed as unstable, not ranked.
- **Smallest within budget**: file sizes are exact; ties (equal bytes) go to better quality, then speed.
- **Pareto set** over size, latency and quality: a mode is dominated by one at least as small, as good and *shown*
  to be no slower (the ratio's whole interval below ``1 + MARGIN``), that is strictly better in one of them; better
  in latency counts only when the other is *slower* above. Claims need evidence both ways: a mode is not called
  slower, nor is a mode dropped from the set, on an interval that straddles the margin.

Runs without interleaved passes (older files) are compared by their medians with the same margin, and their
verdicts say so (``interval`` is None).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from qbench.intervals import Ratio, paired_ratio

#: Practical margin: a difference under 10 % is a tie even when real. MLPerf accepts 5 % between replicated runs;
#: on this 2-core VM modes of the same speed moved by up to +-6 % from one run to the next (README: A verdict that
#: holds), so a 5 % margin would not give the same verdict twice.
MARGIN = 0.10
UNSTABLE_WIDTH = 1.30  # a ratio interval spanning more than 30 % cannot rank a mode



class Timed(Protocol):
    """What the rules read of a result (``qbench.report.load.Case`` has it)."""

    mode: str
    model_bytes: int
    latency_median_s: float

    @property
    def pass_medians(self) -> tuple[float, ...]: ...

    @property
    def timing_group(self) -> str | None: ...


def ratio(a: Timed, b: Timed) -> Ratio | None:
    """``a``'s latency over ``b``'s with its interval, when both were timed in the same interleaved passes."""
    if not a.pass_medians or a.timing_group is None or a.timing_group != b.timing_group:
        return None
    return paired_ratio(a.pass_medians, b.pass_medians)


def slower(a: Timed, b: Timed) -> bool:
    """Whether ``a`` is confidently slower than ``b`` by more than the margin (see the module docstring)."""
    r = ratio(a, b)
    if r is not None:
        return r.low > 1 + MARGIN
    return a.latency_median_s > (1 + MARGIN) * b.latency_median_s


def as_fast(a: Timed, b: Timed) -> bool:
    """Whether ``a`` is *shown* to be no slower than ``b``: its ratio's whole interval lies below ``1 + MARGIN``.
    (Not the same as ``not slower(a, b)``: an interval that straddles the margin shows neither.)"""
    r = ratio(a, b)
    if r is not None:
        return r.high <= 1 + MARGIN
    return a.latency_median_s <= (1 + MARGIN) * b.latency_median_s


def unstable(case: Timed, reference: Timed | None) -> bool:
    r = ratio(case, reference) if reference is not None and reference is not case else None
    return r is not None and r.width > UNSTABLE_WIDTH


@dataclass(frozen=True)
class Pick:
    """A verdict on one model x device: the mode picked, and what it is tied with (mode -> its ratio to the pick)."""

    case: Timed
    tied: dict[str, Ratio | None] = field(default_factory=dict)
    unstable: tuple[str, ...] = ()

    @property
    def modes(self) -> frozenset[str]:
        """The pick and its ties: what replicability compares."""
        return frozenset([self.case.mode, *self.tied])


def fastest(eligible: Sequence[Timed], quality: dict[str, float | None], reference: Timed | None = None
            ) -> Pick | None:
    """The fastest mode within budget, its ties and the unstable modes (``quality``: mode -> primary metric)."""
    noisy = tuple(c.mode for c in eligible if unstable(c, reference))
    ranked = [c for c in eligible if c.mode not in noisy]
    if not ranked:
        return None
    best = min(ranked, key=lambda c: c.latency_median_s)
    ties = [c for c in ranked if not slower(c, best)]
    pick = min(ties, key=lambda c: (c.model_bytes, -_finite(quality.get(c.mode)), c.latency_median_s))
    return Pick(pick, {c.mode: ratio(c, pick) for c in ties if c is not pick}, noisy)


def smallest(eligible: Sequence[Timed], quality: dict[str, float | None]) -> Pick | None:
    if not eligible:
        return None
    pick = min(eligible, key=lambda c: (c.model_bytes, -_finite(quality.get(c.mode)), c.latency_median_s))
    return Pick(pick, {c.mode: None for c in eligible if c is not pick and c.model_bytes == pick.model_bytes})


def pareto(cases: Sequence[Timed], quality: dict[str, float | None]) -> list[Timed]:
    """The cases no other case dominates (bytes and latency lower is better, quality higher), smallest first."""
    scored = [c for c in cases if quality.get(c.mode) is not None]

    def dominates(a: Timed, b: Timed) -> bool:
        qa, qb = quality[a.mode], quality[b.mode]
        no_worse = a.model_bytes <= b.model_bytes and qa >= qb and as_fast(a, b)
        return no_worse and (a.model_bytes < b.model_bytes or qa > qb or slower(b, a))

    front = [c for c in scored if not any(dominates(o, c) for o in scored if o is not c)]
    return sorted(front, key=lambda c: (c.model_bytes, c.latency_median_s))


def regressed(baseline: Ratio, current: Ratio, tolerance: float) -> bool:
    """The gate's latency rule: a mode's ratio to float32 grew when the current interval lies wholly above the
    baseline's, widened by the allowed growth (intervals that overlap are the same result within noise)."""
    return current.low > baseline.high * (1 + tolerance)


def _finite(value: float | None) -> float:
    return -math.inf if value is None else value


def agreement(verdicts: Sequence[object]) -> tuple[object, float]:
    """The most common of several runs' verdicts and the fraction of runs that gave it (MLPerf's replicability)."""
    counts = Counter(verdicts)
    common, n = counts.most_common(1)[0]
    return common, n / len(verdicts)

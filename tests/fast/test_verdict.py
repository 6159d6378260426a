"""The verdict rules on timing samples with realistic drift: interleaved passes, paired intervals, ties called ties.

A simulated machine (``DriftingMachine``) whose speed wanders by +-30 % over seconds, as this VM's does, with noise
per call and rare long stalls: ``qbench.timing.time_group`` times two modes on it with its own clock, exactly as it
times real runners, and ``qbench.verdict`` judges the result. A true 20 % difference must be called slower in at
least 95 % of trials, equal speeds a tie in at least 95 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from qbench import verdict
from qbench.intervals import critical_rank, paired_ratio
from qbench.timing import Budget, time_group

TRIALS = 200


class DriftingMachine:
    """A clock and the invoke() of modes that cost ``base`` seconds at nominal speed: the speed drifts (a slow
    sine plus a random walk, +-30 %), each call has 5 % noise, and 1 % of calls stall for 5x their cost."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.now = 0.0
        self.phase = self.rng.uniform(0, 2 * math.pi)
        self.walk = 0.0

    def speed(self) -> float:
        self.walk = float(np.clip(self.walk + self.rng.normal(0, 0.002), -0.15, 0.15))
        return 1 + 0.15 * math.sin(self.phase + 2 * math.pi * self.now / 1.5) + self.walk

    def timer(self) -> float:
        return self.now

    def mode(self, base: float):
        def invoke() -> None:
            cost = base * self.speed() * math.exp(self.rng.normal(0, 0.05))
            self.now += cost * (5 if self.rng.random() < 0.01 else 1)
        return invoke


@dataclass
class Result:
    mode: str
    model_bytes: int
    latency_median_s: float
    pass_medians: tuple[float, ...]
    timing_group: str


def judged(seed: int, base_b: float) -> tuple[Result, Result]:
    machine = DriftingMachine(seed)
    budget = Budget(passes=10, max_time=0.05, min_time=0.0001, timer=machine.timer)
    group = time_group({"a": machine.mode(100e-6), "b": machine.mode(base_b)}, budget, "g", seed=seed)
    results = [Result(m, 1000, float(np.median(c.rounds)) / c.iterations, tuple(c.pass_medians), "g")
               for m, c in group.cases.items()]
    return results[0], results[1]


def test_a_true_20_percent_difference_is_called_slower_in_95_percent_of_trials():
    called = sum(verdict.slower(b, a) and not verdict.slower(a, b) for a, b in (judged(s, 120e-6) for s in range(TRIALS)))
    assert called / TRIALS >= 0.95, f"a 20 % slower mode was called slower in {called}/{TRIALS} trials"


def test_equal_speeds_are_a_tie_in_95_percent_of_trials():
    ties = sum(not verdict.slower(a, b) and not verdict.slower(b, a) for a, b in (judged(s, 100e-6) for s in range(TRIALS)))
    assert ties / TRIALS >= 0.95, f"equal modes were called a tie in {ties}/{TRIALS} trials"


def test_the_fastest_pick_is_the_smallest_file_among_its_ties():
    a, b = judged(0, 100e-6)
    small = Result("small", 10, b.latency_median_s, b.pass_medians, "g")
    pick = verdict.fastest([a, small], {"a": 1.0, "small": 1.0})
    assert pick.case.mode == "small" and set(pick.tied) == {"a"}


def test_passes_alternate_the_modes_in_a_shuffled_order():
    machine = DriftingMachine(1)
    group = time_group({m: machine.mode(100e-6) for m in "abc"}, Budget(passes=8, max_time=0.02, timer=machine.timer),
                       "g", seed=3)
    blocks = sorted((start, p, mode) for mode, case in group.cases.items() for p, _, start, _ in case.blocks)
    passes = [p for _, p, _ in blocks]
    assert passes == sorted(passes)  # every mode's block of pass p starts before any block of pass p + 1
    orders = {tuple(mode for _, p2, mode in blocks if p2 == p) for p in range(8)}
    assert all(sorted(o) == ["a", "b", "c"] for o in orders) and len(orders) > 1  # shuffled, each mode once


def test_timing_spends_the_budget_each_case_is_given():
    machine = DriftingMachine(2)
    budget = Budget(passes=10, max_time=0.05, min_time=0.0001, timer=machine.timer)
    group = time_group({"a": machine.mode(100e-6), "b": machine.mode(1e-3)}, budget, "g")
    for case in group.cases.values():
        assert sum(case.rounds) == pytest.approx(budget.max_time, rel=0.4)
        assert sum(case.rounds) / len(case.rounds) >= budget.min_time
        assert len(case.blocks) == 10


@pytest.mark.parametrize("n, expected", [(5, None), (6, 0), (8, 3), (10, 8), (15, 25), (20, 52)])
def test_the_signed_rank_critical_values_are_the_tabulated_ones(n, expected):
    """Hollander & Wolfe's table of the Wilcoxon signed-rank statistic (two-sided 5 %)."""
    assert critical_rank(n) == expected


def test_the_interval_covers_the_true_ratio_at_its_confidence():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(400):
        drift = np.exp(rng.normal(0, 0.2, 10))
        a, b = 1.3 * drift * np.exp(rng.normal(0, 0.03, 10)), drift * np.exp(rng.normal(0, 0.03, 10))
        r = paired_ratio(a, b)
        covered += r.low <= 1.3 <= r.high
    assert covered / 400 >= 0.93


def test_too_few_passes_give_no_interval_and_the_rules_fall_back_on_medians():
    assert paired_ratio([1.0] * 5, [1.0] * 5) is None
    a = Result("a", 1, 1.0, (), "g")
    b = Result("b", 1, 1.2, (), "g")
    assert verdict.slower(b, a) and not verdict.slower(a, b)
    assert verdict.ratio(a, b) is None


def test_a_noisy_mode_is_unstable_and_not_ranked():
    ref = Result("float32", 100, 1.0, tuple([1.0] * 10), "g")
    noisy = Result("noisy", 10, 0.5, (0.3, 1.5, 0.4, 1.6, 0.35, 1.4, 0.5, 1.2, 0.3, 1.7), "g")
    pick = verdict.fastest([ref, noisy], {"float32": 1.0, "noisy": 1.0}, ref)
    assert pick.case.mode == "float32" and pick.unstable == ("noisy",)


def test_pareto_dominance_on_latency_needs_a_significant_difference():
    a = Result("a", 100, 1.00, tuple(1.00 + 0.01 * i for i in range(10)), "g")
    b = Result("b", 100, 1.02, tuple(1.02 + 0.01 * i for i in range(10)), "g")  # 2 % slower: a tie
    c = Result("c", 100, 1.50, tuple(1.50 + 0.01 * i for i in range(10)), "g")  # 50 % slower
    front = verdict.pareto([a, b, c], {"a": 1.0, "b": 1.0, "c": 1.0})
    assert {r.mode for r in front} == {"a", "b"}


def test_the_gate_rule_needs_the_intervals_apart():
    base = paired_ratio([1.0 + 0.01 * i for i in range(10)], [1.0] * 10)
    same = paired_ratio([1.02 + 0.01 * i for i in range(10)], [1.0] * 10)
    worse = paired_ratio([1.6 + 0.01 * i for i in range(10)], [1.0] * 10)
    assert not verdict.regressed(base, same, 0.25) and verdict.regressed(base, worse, 0.25)

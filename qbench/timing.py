"""Interleaved timing: the modes of one model on one device are timed in alternating passes, not one after another.

This machine's speed drifts by ~30 % over seconds (a bare MNIST invoke loop gave medians of 12.6, 10.4 and 9.7 µs
back to back), and a Raspberry Pi throttles as it warms. Timed one after another, drift lands on the modes unequally
and the ranking of modes follows the drift. So the cases that are compared with each other (every mode of one model
on one device, a *group*) are timed together: ``passes`` passes, each timing every mode of the group once (a *block*
of rounds) in an order shuffled per pass with a fixed seed. Drift then hits all modes of a pass alike, and the
ratio of two modes' medians *within a pass* cancels it (``qbench.intervals``).

The budget is pytest-benchmark's own: each case gets ``--benchmark-max-time`` seconds of rounds in total (spread
over the passes), each round at least ``--benchmark-min-time`` long (calibrated as pytest-benchmark calibrates it:
enough iterations per round), at least ``--benchmark-min-rounds`` rounds. Every round is timed with pytest-benchmark's
configured timer and handed to pytest-benchmark as that case's statistics (``record``), so its JSON,
``--benchmark-compare`` and ``pytest-benchmark compare`` see ordinary rounds of that case, and each case's stats keep
their meaning (per-invoke time, over rounds). While a group is timed, the share of CPU time other processes used is
measured too (``load``): a busy machine is reported, not hidden.
"""

from __future__ import annotations

import gc
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

DEFAULT_PASSES = 20  # paired samples per ratio (6 give a 95 % interval at all; qbench.intervals)
SEED = 0


@dataclass(frozen=True)
class Budget:
    """How long and how finely to time (pytest-benchmark's options, and the number of passes)."""

    passes: int = DEFAULT_PASSES
    max_time: float = 0.25  # seconds of rounds per case, over all passes
    min_time: float = 0.0001  # seconds per round at least
    min_rounds: int = 5
    timer: Callable[[], float] = time.perf_counter
    disable_gc: bool = False


@dataclass
class CaseTiming:
    """One case's rounds from the interleaved passes."""

    mode: str
    iterations: int  # invokes per round
    rounds: list[float] = field(default_factory=list)  # seconds per round, in time order
    blocks: list[tuple[int, int, float, int]] = field(default_factory=list)  # (pass, position, start s, rounds)

    @property
    def pass_medians(self) -> list[float]:
        """Per-invoke median of each pass's block: what paired ratios are made of."""
        medians, at = [], 0
        for _, _, _, n in self.blocks:
            medians.append(float(np.median(self.rounds[at:at + n])) / self.iterations)
            at += n
        return medians

    def info(self, group: GroupTiming) -> dict[str, Any]:
        """``extra_info["timing"]``: enough to recompute every ratio and to check the interleaving."""
        return {
            "scheme": "interleaved", "group": group.id, "modes": list(group.cases), "passes": len(self.blocks),
            "iterations": self.iterations, "rounds_per_pass": [n for *_, n in self.blocks],
            "pass_medians_s": self.pass_medians, "positions": [p for _, p, _, _ in self.blocks],
            "block_start_s": [round(s, 6) for _, _, s, _ in self.blocks], "seed": group.seed,
            "other_cpu_share": group.load,
        }


@dataclass
class GroupTiming:
    id: str  # unique per session: model@device@start time
    cases: dict[str, CaseTiming]
    load: float | None  # share of the machine's CPU time other processes used while the group was timed
    seed: int


def calibrate(invoke: Callable[[], None], budget: Budget) -> tuple[int, float]:
    """(iterations per round so that a round lasts at least ``min_time``, seconds per invoke), as pytest-benchmark
    calibrates its rounds, but on the fastest of three tries per step: one slow first round (a thread pool waking
    up) must not leave a 10 µs invoke timed one call per round, where the timer's own jitter dominates."""
    loops = 1
    while True:
        duration = min(_round(invoke, loops, budget.timer) for _ in range(3))
        if duration >= budget.min_time or loops >= 1 << 20:
            return loops, duration / loops
        loops = max(loops * 2, math.ceil(budget.min_time * loops / max(duration, 1e-9)))


def _round(invoke: Callable[[], None], loops: int, timer: Callable[[], float]) -> float:
    start = timer()
    for _ in range(loops):
        invoke()
    return timer() - start


def time_group(invokes: dict[str, Callable[[], None]], budget: Budget, group: str, seed: int = SEED,
               reload: Callable[[str], Callable[[], None]] | None = None) -> GroupTiming:
    """Time every mode of a group (mode -> its runner's invoke) in ``budget.passes`` interleaved passes.

    ``reload(mode)``, when given, loads the mode's model afresh before each of its blocks (untimed) and returns the
    new runner's invoke: what a load decides (where the weights and the arena land in memory, how buffers align)
    moved a ratio by up to 20 % from one process to the next here, so each pass samples a load of its own and the
    interval covers it, instead of one load's luck standing for the mode."""
    modes = list(invokes)
    per_round = {m: calibrate(invokes[m], budget) for m in modes}
    rounds_per_block = {}
    for m, (loops, per_invoke) in per_round.items():
        rounds = math.ceil(budget.max_time / budget.passes / max(loops * per_invoke, 1e-9))
        rounds_per_block[m] = max(1, rounds, math.ceil(budget.min_rounds / budget.passes))
    cases = {m: CaseTiming(m, per_round[m][0]) for m in modes}
    rng = np.random.default_rng(seed)
    load = _Load()
    gc_was_enabled = gc.isenabled()
    if budget.disable_gc:
        gc.disable()
    origin = budget.timer()
    try:
        for p in range(budget.passes):
            for position, index in enumerate(rng.permutation(len(modes))):
                m = modes[index]
                case = cases[m]
                if reload is not None and p:
                    invokes[m] = reload(m)
                start = budget.timer() - origin
                for _ in range(rounds_per_block[m]):
                    case.rounds.append(_round(invokes[m], case.iterations, budget.timer))
                case.blocks.append((p, position, start, rounds_per_block[m]))
    finally:
        if gc_was_enabled:
            gc.enable()
    return GroupTiming(group, cases, load.other_share(), seed)


class _Load:
    """The share of all cores' time that processes other than this one used since construction (psutil)."""

    def __init__(self):
        import psutil

        self._psutil = psutil
        self._start = (time.monotonic(), self._busy(), self._own())

    def _busy(self) -> float:
        t = self._psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    def _own(self) -> float:
        t = self._psutil.Process().cpu_times()
        return t.user + t.system

    def other_share(self) -> float | None:
        wall0, busy0, own0 = self._start
        wall = time.monotonic() - wall0
        if wall <= 0:
            return None
        other = (self._busy() - busy0) - (self._own() - own0)
        return max(0.0, min(1.0, other / (wall * (os.cpu_count() or 1))))


def record(fixture, case: CaseTiming) -> None:
    """Hand ``case``'s rounds to a pytest-benchmark fixture as its statistics, as its own ``benchmark(...)`` call
    would have (one ``Metadata`` with the calibrated iterations, one update per round). The one place qbench uses
    pytest-benchmark's fixture internals (``_make_stats``, ``_mode``); ``tests/integration/test_timing.py`` runs the
    real plugin on it."""
    stats = fixture._make_stats(case.iterations)
    for duration in case.rounds:
        stats.update(duration)
    fixture._mode = "qbench.timing (interleaved passes)"


def budget_of(fixture, passes: int) -> Budget:
    """The timing budget a pytest-benchmark fixture was configured with (its command-line options)."""
    return Budget(passes=passes, max_time=fixture._max_time, min_time=fixture._min_time, min_rounds=fixture._min_rounds,
                  timer=fixture._timer, disable_gc=fixture._disable_gc)

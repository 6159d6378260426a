"""The session's interleaved timings (``qbench.timing``): the first timed case of a group times the whole group.

The plugin knows the groups from collection (every selected mode of one model on one device whose latency is
benchmarked); a latency case asks ``case()`` for its rounds, and the first to ask times all modes of its group in
interleaved passes, with that case's pytest-benchmark options. What each mode computed after its timed rounds must
equal what its first, untimed invoke computed, as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qbench.errors import QbenchError
from qbench.intervals import paired_ratio
from qbench.modes import REFERENCE_MODE
from qbench.timing import Budget, CaseTiming, GroupTiming, time_group

SAMPLE_INDEX = 0  # the first test image/frame: fixed, so every machine times the same input


@dataclass(frozen=True)
class Timed:
    case: CaseTiming
    group: GroupTiming

    def info(self) -> dict[str, Any]:
        """``extra_info``: the timing facts, and the ratio to float32 on the same device with its interval."""
        facts: dict[str, Any] = {"timing": self.case.info(self.group)}
        reference = self.group.cases.get(REFERENCE_MODE)
        if reference is not None and reference is not self.case:
            ratio = paired_ratio(self.case.pass_medians, reference.pass_medians)
            if ratio is not None:
                facts["latency_ratio"] = {"vs": REFERENCE_MODE, **ratio.as_dict()}
        return facts


class Interleaved:
    def __init__(self, artifacts, evaluator, groups: dict[tuple[str, str], list[str]], passes: int):
        """``artifacts`` give each model's evaluation set (its first sample is timed), ``evaluator`` its runners."""
        self.artifacts, self.evaluator, self.groups, self.passes = artifacts, evaluator, groups, passes
        self._timed: dict[tuple[str, str], tuple[GroupTiming, dict[str, str]]] = {}

    def sample(self, model_id: str) -> np.ndarray:
        return self.artifacts.eval_set(model_id).x[SAMPLE_INDEX: SAMPLE_INDEX + 1]

    def case(self, model_id: str, mode_id: str, device_id: str, budget: Budget) -> Timed:
        key = (model_id, device_id)
        if key not in self._timed:
            self._timed[key] = self._time(key, budget)
        group, failed = self._timed[key]
        if mode_id in failed:
            raise QbenchError(f"{model_id} {mode_id} on {device_id}: {failed[mode_id]}",
                              "report it: the runtime computed two different results for one input")
        if mode_id not in group.cases:
            raise QbenchError(f"{model_id} {mode_id} on {device_id} was not timed with its group "
                              f"({', '.join(group.cases)})", "select the case's group as a whole")
        return Timed(group.cases[mode_id], group)

    def _time(self, key: tuple[str, str], budget: Budget) -> tuple[GroupTiming, dict[str, str]]:
        model_id, device_id = key
        sample = self.sample(model_id)
        runners, expected, failed = {}, {}, {}

        def check(mode_id: str) -> None:
            if not np.array_equal(runners[mode_id].raw_output(), expected[mode_id]):
                failed[mode_id] = "the timed invoke() loop computed another output than the untimed call"

        def load(mode_id: str):
            runner = self.evaluator.runner(model_id, mode_id, device_id)
            runner.set_input(sample)
            runner.invoke()
            return runner

        def reload(mode_id: str):
            check(mode_id)  # what the last block computed, before its runner goes
            runners.pop(mode_id).close()
            runners[mode_id] = load(mode_id)
            return runners[mode_id].invoke

        try:
            for mode_id in self.groups.get(key, []):
                try:
                    runners[mode_id] = load(mode_id)
                except QbenchError:
                    continue  # not applicable or not loadable: its own case says why
                expected[mode_id] = runners[mode_id].raw_output().copy()
            group = time_group({m: r.invoke for m, r in runners.items()}, budget,
                               f"{model_id}@{device_id}@{time.time():.6f}", reload=reload)
            for mode_id in runners:
                check(mode_id)
        finally:
            for runner in runners.values():
                runner.close()
        return group, failed

"""The session's interleaved timings (``qbench.timing``): the first timed case of a group times the whole group.

The plugin knows the groups from collection (every selected mode of one model on one device whose latency is
benchmarked); a latency case asks ``case()`` for its rounds, and the first to ask times all modes of its group in
interleaved passes, with that case's pytest-benchmark options. What each mode computed after its timed rounds must
equal what its first, untimed invoke computed, as before.

A device of another framework that names a LiteRT ``peer`` (``Device.peer``: ONNX Runtime's CPU device on one
thread and LiteRT's XNNPACK on one thread) is timed in its peer's group: its cases join those passes (labelled
``mode@device``), so that each of them gets its ratio to its own framework's float32 on its device
(``latency_ratio``) *and* to LiteRT's float32 on the peer (``latency_ratio_peer``), both from the same passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qbench.errors import QbenchError
from qbench.intervals import paired_ratio
from qbench.modes import REFERENCE_MODE, reference_of
from qbench.runtime import get as device_of
from qbench.timing import Budget, CaseTiming, GroupTiming, time_group

SAMPLE_INDEX = 0  # the first test image/frame: fixed, so every machine times the same input


def group_device(device_id: str) -> str:
    """The device whose interleaved group ``device_id``'s cases are timed in: its peer, or itself."""
    return device_of(device_id).peer or device_id


def label(mode_id: str, device_id: str) -> str:
    """A case's name in its group: the mode on the group's own device, ``mode@device`` on a peer's."""
    return mode_id if group_device(device_id) == device_id else f"{mode_id}@{device_id}"


@dataclass(frozen=True)
class Timed:
    case: CaseTiming
    group: GroupTiming
    mode: str = ""
    device: str = ""

    def info(self) -> dict[str, Any]:
        """``extra_info``: the timing facts, and the ratio to its framework's float32 on the same device with its
        interval (and, on a peer's group, to LiteRT's float32 on the peer)."""
        facts: dict[str, Any] = {"timing": self.case.info(self.group)}
        reference = reference_of(self.mode) if self.mode else REFERENCE_MODE
        for key, mode_id, device_id in (("latency_ratio", reference, self.device),
                                        ("latency_ratio_peer", REFERENCE_MODE, group_device(self.device))):
            if key == "latency_ratio_peer" and group_device(self.device) == self.device:
                continue
            other = self.group.cases.get(label(mode_id, device_id) if self.device else mode_id)
            if other is not None and other is not self.case:
                ratio = paired_ratio(self.case.pass_medians, other.pass_medians)
                if ratio is not None:
                    facts[key] = {"vs": mode_id if key == "latency_ratio" else f"{mode_id} on {device_id}",
                                  **ratio.as_dict()}
        return facts


class Interleaved:
    def __init__(self, artifacts, evaluator, groups: dict[tuple[str, str], list[tuple[str, str]]], passes: int):
        """``artifacts`` give each model's evaluation set (its first sample is timed), ``evaluator`` its runners;
        ``groups``: (model, group device) -> the (mode, device) cases timed together."""
        self.artifacts, self.evaluator, self.groups, self.passes = artifacts, evaluator, groups, passes
        self._timed: dict[tuple[str, str], tuple[GroupTiming, dict[str, str]]] = {}

    def sample(self, model_id: str) -> np.ndarray:
        return self.artifacts.eval_set(model_id).x[SAMPLE_INDEX: SAMPLE_INDEX + 1]

    def case(self, model_id: str, mode_id: str, device_id: str, budget: Budget) -> Timed:
        key = (model_id, group_device(device_id))
        if key not in self._timed:
            self._timed[key] = self._time(key, budget)
        group, failed = self._timed[key]
        name = label(mode_id, device_id)
        if name in failed:
            raise QbenchError(f"{model_id} {mode_id} on {device_id}: {failed[name]}",
                              "report it: the runtime computed two different results for one input")
        if name not in group.cases:
            raise QbenchError(f"{model_id} {mode_id} on {device_id} was not timed with its group "
                              f"({', '.join(group.cases)})", "select the case's group as a whole")
        return Timed(group.cases[name], group, mode_id, device_id)

    def _time(self, key: tuple[str, str], budget: Budget) -> tuple[GroupTiming, dict[str, str]]:
        model_id, device_id = key
        sample = self.sample(model_id)
        runners, expected, failed = {}, {}, {}
        cases = {label(m, d): (m, d) for m, d in self.groups.get(key, [])}

        def check(name: str) -> None:
            if not np.array_equal(runners[name].raw_output(), expected[name]):
                failed[name] = "the timed invoke() loop computed another output than the untimed call"

        def load(name: str):
            runner = self.evaluator.runner(model_id, *cases[name])
            runner.set_input(sample)
            runner.invoke()
            return runner

        def reload(name: str):
            check(name)  # what the last block computed, before its runner goes
            runners.pop(name).close()
            runners[name] = load(name)
            return runners[name].invoke

        try:
            for name in cases:
                try:
                    runners[name] = load(name)
                except QbenchError:
                    continue  # not applicable or not loadable: its own case says why
                expected[name] = runners[name].raw_output().copy()
            group = time_group({m: r.invoke for m, r in runners.items()}, budget,
                               f"{model_id}@{device_id}@{time.time():.6f}", reload=reload)
            for name in runners:
                check(name)
        finally:
            for runner in runners.values():
                runner.close()
        return group, failed

"""Runners and evaluations: one model x mode x device loaded, run on its evaluation set, scored by its task, judged by
the task's rules against float32 on the same device.

An evaluation is a cached artifact (``qbench.evaluations``) keyed by what determines it, memoized per session, and
shared between devices that compute the same thing (``Runner.computation``): a model XNNPACK declines entirely
(int16x8: 0 delegate partitions) runs the built-in kernels on ``xnnpack`` exactly as on ``builtin``. Only float32's
predictions are kept (every other mode's agreement and fidelity are scored against them). The evaluator reads its
models through an ``ArtifactSource``: the build machine's ``Artifacts`` or a bundle's.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from qbench import evaluations, runtime
from qbench.cache import Artifact, Cache, make_key
from qbench.data.base import EvalSet
from qbench.measure import Evaluation, evaluate
from qbench.modes import get as mode_of
from qbench.modes import reference_of
from qbench.errors import QbenchError
from qbench.pipeline.memo import Memo, Refusals
from qbench.tasks import get as task_of
from qbench.tasks.base import Task, Verdict


class ArtifactSource(Protocol):
    """Where the run stage reads models from: a cache that builds, or a bundle that holds them."""

    settings: Any

    def spec(self, model_id: str) -> Any: ...

    def tflite(self, model_id: str, mode_id: str) -> Artifact: ...

    def eval_set(self, model_id: str) -> EvalSet: ...


class Evaluator:
    def __init__(self, artifacts: ArtifactSource, eval_cache: Cache | None, eval_limit: int | None = None,
                 reevaluate: bool = False, started: str | None = None, concurrency: int = 1):
        """``eval_cache``: where evaluations are kept (None: evaluate every session); ``eval_limit``: score the first N
        samples only (an emulated CPU; results record ``eval_samples``); ``started``: what "this session" means for
        ``reevaluate``; ``concurrency``: evaluations running at once (the warm-up pool): eval_fps shares the CPU."""
        self.artifacts, self.eval_cache = artifacts, eval_cache
        self.eval_limit, self.reevaluate, self.concurrency = eval_limit, reevaluate, concurrency
        self.started = started or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._memo = Memo(light=frozenset({"data-digest", "evaluation-key"}))
        self._refused = Refusals()

    def refuse(self, model_id: str, mode_id: str, device_id: str, error: QbenchError) -> None:
        """Raise ``error`` for this evaluation, and for a runner of it, instead of running it in this process."""
        self._refused.add((model_id, mode_id, device_id), error)

    def task(self, model_id: str) -> Task:
        return task_of(self.artifacts.spec(model_id).task)

    def scored_set(self, model_id: str) -> EvalSet:
        """The samples scored: the model's evaluation set, or its first ``eval_limit``."""
        return self.artifacts.eval_set(model_id).head(self.eval_limit)

    def runner(self, model_id: str, mode_id: str, device_id: str) -> runtime.Runner:
        self._refused.check((model_id, mode_id, device_id))
        runtime.check_format(mode_of(mode_id), runtime.get(device_id), f"{model_id} {mode_id}")  # before building it
        return runtime.open_runner(self.artifacts.tflite(model_id, mode_id).path, runtime.get(device_id),
                                   label=f"{model_id} {mode_id}")

    def data_digest(self, model_id: str) -> str:
        data = self.scored_set(model_id)
        return self._memo.get(("data-digest", model_id, self.eval_limit),
                              lambda: evaluations.data_digest(data.x, data.y))

    def key(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """What determines this evaluation's results; loads a runner once to learn what computes on the device."""

        def make() -> dict[str, Any]:
            with self.runner(model_id, mode_id, device_id) as runner:
                computation = runner.computation
            ref = reference_of(mode_id)
            reference = None if mode_id == ref else make_key(self.key(model_id, ref, device_id))
            return evaluations.key(self.artifacts.tflite(model_id, mode_id), computation, self.data_digest(model_id),
                                   self.eval_limit, self.task(model_id), reference)

        return self._memo.get(("evaluation-key", model_id, mode_id, device_id), make)

    def cached(self, model_id: str, mode_id: str, device_id: str) -> bool:
        """Whether the evaluation cache holds this evaluation (and ``reevaluate`` does not want it again)."""
        if self.eval_cache is None:
            return False
        artifact = self.eval_cache.lookup("eval", self.key(model_id, mode_id, device_id))
        return artifact is not None and not (self.reevaluate and self._stale(artifact))

    def _stale(self, artifact: Artifact) -> bool:
        """Made before this session started (what ``reevaluate`` recomputes; what eval_cached reports)."""
        return artifact.manifest.get("created", "") < self.started

    def evaluation(self, model_id: str, mode_id: str, device_id: str) -> Evaluation:
        """From the evaluation cache when it holds it, else computed and stored; memoized for the session."""
        self._refused.check((model_id, mode_id, device_id))

        def run() -> Evaluation:
            parts = self.key(model_id, mode_id, device_id)
            return self._memo.get(("evaluate-kernels", model_id, mode_id, tuple(parts["computation"])),
                                  lambda: self._measure(model_id, mode_id, device_id, parts))

        return self._memo.get(("evaluate", model_id, mode_id, device_id), run)

    def _measure(self, model_id: str, mode_id: str, device_id: str, parts: dict[str, Any]) -> Evaluation:
        ref = reference_of(mode_id)
        reference = None if mode_id == ref else self.evaluation(model_id, ref, device_id)

        def compute() -> Evaluation:
            with self.runner(model_id, mode_id, device_id) as runner:
                done = evaluate(runner, self.scored_set(model_id), self.task(model_id),
                                self.artifacts.spec(model_id).eval_batch,
                                None if reference is None else reference.predictions)
            return Evaluation({**done.result, "eval_device": device_id, "eval_concurrency": self.concurrency},
                              done.predictions if mode_id == ref else None)

        if self.eval_cache is None:  # a bundle without --qbench-cache: evaluate every session
            done = compute()
            return Evaluation({**done.result, "eval_cached": False}, done.predictions, make_key(parts))
        artifact = self.eval_cache.get_or_build(
            "eval", parts, evaluations.FILENAME, lambda path: evaluations.write(path, compute()),
            label=f"evaluation of {model_id} {mode_id} on {device_id}",
            stale=self._stale if self.reevaluate else None)
        done = evaluations.read(artifact, fresh=not self._stale(artifact))
        return Evaluation(done.result, done.predictions, make_key(parts))

    def result(self, model_id: str, mode_id: str, device_id: str) -> dict[str, Any]:
        """The quality numbers of one model x mode x device (see ``evaluation``)."""
        return self.evaluation(model_id, mode_id, device_id).result

    def verdict(self, model_id: str, mode_id: str, device_id: str) -> Verdict:
        """The task's quality rules for this mode's family, against its framework's float32 on the same device."""
        spec = self.artifacts.spec(model_id)
        ref = reference_of(mode_id)
        return self.task(model_id).judge(
            self.result(model_id, mode_id, device_id), self.result(model_id, ref, device_id),
            mode_of(mode_id).family, spec.floors_for(self.artifacts.settings), is_reference=mode_id == ref,
        )

    def release(self, keep: str | None = None) -> None:
        self._memo.release(keep)

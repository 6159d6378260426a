"""Budgeted mixed precision: keep the fewest worst layers of a lossy mode at higher precision until it meets the budget.

Greedy, by the per-layer error ``qbench.repair`` measures: while the model misses its quality budget on the
evaluation set, explain the current model and raise the quantized layer that adds the most error (lowest
``added_snr_db``) one step along its mode's ``keep`` precisions (int4 -> int8 -> float, or int8 -> float); rebuild,
evaluate. A step must pay for itself: if the raised layer does not improve quality (errors of several layers can
cancel, and removing one can make the output worse), the next-ranked layer is tried instead, up to ``TRIALS`` per
step, and only when none improves is the least bad of them kept. A model that meets the budget as it is keeps no
layer and is the lossy mode's artifact byte for byte. Every trial is recorded (kept layers, bytes, quality,
accepted or not), so the search result is a reproducible artifact.

A search ends: it stops, "budget not reachable with this mode", once its model is as large as the mode's ``wider``
mode would be (``qbench.size`` predicts it; a user would pick that mode instead), or once it has tried as many
layers as the model has quantized ones (at least ``MIN_TRIALS``): a loss that so many kept layers do not cure is
not in single layers. (Seen without the cap: MediaPipe's hand landmark model on photographs without a hand ran 164
trials of aeq-dynamic-int4+budget, and never got within 15 dB of its budget.)

Quality is judged as the matrix judges it: the task's rules for the mode's family against float32, on the *whole*
evaluation set (not ``--qbench-eval-limit``'s head), on every device of ``SEARCH_DEVICES`` (XNNPACK and the
built-in kernels; both must meet it). The budget is the task's unless ``--qbench-budget-target`` gives another.
The search therefore selects layers on the evaluation set itself: the quality it reaches there is what it was
tuned for, like any budget met by choice.
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from qbench import modes, progress
from qbench.errors import NotApplicable
from qbench.measure import evaluate
from qbench.modes import REFERENCE_MODE
from qbench.repair.compare import compare
from qbench.repair.explainer import SAMPLES
from qbench.repair.layers import short_label
from qbench.runtime import get, open_runner
from qbench.size import predicted_bytes
from qbench.tasks.base import Budget, Task
from qbench.tflite_file import TfliteModel

if TYPE_CHECKING:
    from qbench.config.options import Settings
    from qbench.modes import Mode
    from qbench.repair.inputs import RepairInputs

SEARCH_DEVICES = ("xnnpack", "builtin")  # both kernel families the matrix runs quickly; each must meet the budget
NOT_KEPT = frozenset({"QUANTIZE", "DEQUANTIZE"})  # the mode's own conversions, not layers
TRIALS = 3  # layers tried per step, worst first, until one improves quality
MIN_TRIALS = 12  # the trial cap is one trial per quantized layer, at least this many


def task_for(task: Task, settings: Settings, family: str) -> Task:
    """The model's task, with the budget of ``family`` replaced by ``--qbench-budget-target`` when it names the task."""
    targets = settings.get("budget_target") or {}
    target = targets.get(task.id, targets.get("*"))
    if target is None:
        return task
    changed = copy.copy(task)
    changed.budgets = {**task.budgets, family: Budget(float(target), task.budget_for(family).floor)}
    return changed


def target_of(task: Task, settings: Settings, family: str) -> float:
    return task_for(task, settings, family).budget_for(family).budget


@dataclass
class Step:
    kept: dict[str, str]  # output tensor name -> precision
    changed: str | None  # the layer this step raised (None: the lossy mode as it is)
    bytes: int
    quality: dict[str, float]  # device -> the task's primary metric
    within_budget: bool
    seconds: float
    accepted: bool = True  # False: a trial the search did not keep (it did not improve quality)

    @property
    def score(self) -> float:
        return min(self.quality.values())

    def record(self) -> dict[str, Any]:
        return {"kept": dict(self.kept), "changed": self.changed, "bytes": self.bytes, "quality": self.quality,
                "within_budget": self.within_budget, "accepted": self.accepted, "seconds": round(self.seconds, 2)}


@dataclass
class Search:
    """One search; ``run`` returns the chosen model's bytes."""

    inputs: RepairInputs
    mode: Mode
    steps: list[Step] = field(default_factory=list)
    budget: str = ""

    def run(self) -> bytes:
        inputs, model_id, base = self.inputs, self.inputs.model_id, modes.get(self.mode.base)
        task = task_for(inputs.task, inputs.settings, base.family)
        data, batch, floors = inputs.eval_set(), inputs.eval_batch, inputs.floors
        references = {d: evaluate(open_runner(inputs.artifact(REFERENCE_MODE).path, get(d)), data, task, batch)
                      for d in SEARCH_DEVICES}

        def judge(kept: dict[str, str], changed: str | None, path: Path, start: float) -> Step:
            quality, met = {}, True
            for device, ref in references.items():
                result = evaluate(open_runner(path, get(device)), data, task, batch, ref.predictions).result
                verdict = task.judge(result, ref.result, base.family, floors, is_reference=False)
                quality[device] = result[task.primary]
                met = met and bool(verdict.within_budget)
                self.budget = verdict.budget
            return Step(dict(kept), changed, path.stat().st_size, quality, met, time.perf_counter() - start)

        artifact = inputs.artifact(base.id)
        self.steps.append(current := judge({}, None, artifact.path, time.perf_counter()))
        if current.within_budget:
            return artifact.path.read_bytes()
        reference, samples = inputs.reference_bytes(base.id), data.x[:SAMPLES]
        wider, float_model = modes.get(base.wider or REFERENCE_MODE), TfliteModel(reference, f"{model_id} float model")
        cap = predicted_bytes(float_model, wider)  # sizes compared as qbench.size predicts both (files carry overheads)
        if predicted_bytes(float_model, base) >= cap:  # a tiny model whose quantization parameters outweigh the saving
            wider = modes.get(REFERENCE_MODE)
            cap = predicted_bytes(float_model, wider)
        with inputs.keeper(base) as keep, tempfile.TemporaryDirectory(prefix="qbench-budget-") as tmp:
            table = inputs.explanation(base.id)  # the lossy mode's own, cached for `qbench explain` too
            limit = max(MIN_TRIALS, len(self._candidates(table, base, {})))
            while True:
                size = predicted_bytes(float_model, base, current.kept)
                if size >= cap or len(self.steps) - 1 >= limit:
                    raise NotApplicable(self._unreachable(model_id, current, size, wider, cap, limit),
                                        f"use {wider.id} (or another wider mode) for {model_id}")
                candidates = self._candidates(table, base, current.kept)
                if not candidates:
                    done = (f"keeping all {len(current.kept)} quantized layers at {base.keep[-1]}" if current.kept
                            else "no layer of its per-layer table can be kept wider")
                    raise NotApplicable(f"{self.mode.id} of {model_id}: {done} still misses the budget ({self.budget}; "
                                        f"{self._quality(current.quality)})",
                                        "the loss is not in single layers: choose a wider mode")
                tried: list[tuple[Step, Path]] = []
                for layer in candidates[:TRIALS]:
                    start = time.perf_counter()
                    kept = {**current.kept, layer: _next(base.keep, current.kept.get(layer))}
                    path = Path(tmp) / f"step-{len(self.steps)}.tflite"
                    path.write_bytes(keep(kept))
                    step = judge(kept, layer, path, start)
                    step.accepted = False
                    self.steps.append(step)
                    progress.log(f"{self.mode.id} of {model_id}: trial {len(self.steps) - 1}, {len(kept)} layer(s) "
                                 f"kept, {short_label(layer)} at {kept[layer]}: {self._quality(step.quality)} "
                                 f"({'meets' if step.within_budget else 'misses'} {self.budget}, {step.seconds:.1f} s)")
                    tried.append((step, path))
                    if step.within_budget or step.score > current.score:
                        break
                step, path = next(((s, p) for s, p in tried if s.within_budget or s.score > current.score),
                                  max(tried, key=lambda t: t[0].score))  # none improved: the least bad still widens
                step.accepted, current = True, step
                if current.within_budget:
                    return path.read_bytes()
                table = compare(reference, path, samples, model=model_id, mode=self.mode.id)

    def _unreachable(self, model_id: str, current: Step, size: int, wider: Mode, cap: int, limit: int) -> str:
        why = (f"it would be {size} bytes, as large as {wider.id} would be ({cap}; as qbench.size predicts both)"
               if size >= cap
               else f"it reached its cap of {limit} trials (one per quantized layer)")
        return (f"budget not reachable with {self.mode.base}: {self.mode.id} of {model_id} stopped after "
                f"{len(self.steps) - 1} trials with {len(current.kept)} layer(s) kept: {why}, still missing the budget "
                f"({self.budget}; {self._quality(current.quality)})")

    def _candidates(self, table, base: Mode, kept: Mapping[str, str]) -> list[str]:
        """The quantized layers that can still be raised a step, the one adding the most error first."""
        return [layer.tensor for layer in table.ranked()
                if layer.quantized and layer.op not in NOT_KEPT and layer.added_snr_db is not None
                and _next(base.keep, kept.get(layer.tensor)) is not None]

    @staticmethod
    def _quality(quality: Mapping[str, float]) -> str:
        return ", ".join(f"{v:.4f} on {d}" for d, v in quality.items())

    def record(self) -> dict[str, Any]:
        last = [s for s in self.steps if s.accepted][-1]
        return {"base": self.mode.base, "budget": self.budget, "devices": list(SEARCH_DEVICES), "samples": SAMPLES,
                "trials_per_step": TRIALS, "kept_layers": dict(last.kept), "bytes": last.bytes,
                "quality": last.quality, "steps": [s.record() for s in self.steps]}


def _next(ladder: tuple[str, ...], current: str | None) -> str | None:
    """The precision after ``current`` on the mode's ladder (the first when not kept yet; None at the top)."""
    if current is None:
        return ladder[0] if ladder else None
    position = ladder.index(current)
    return ladder[position + 1] if position + 1 < len(ladder) else None

"""Budgeted mixed precision: keep the fewest worst layers of a lossy mode at higher precision until it meets the budget.

Greedy, by the per-layer error ``qbench.explain`` measures: while the model misses its quality budget on the
evaluation set, explain the current model, take the quantized layer that adds the most error (lowest
``added_snr_db``) and raise it one step along its mode's ``keep`` precisions (int4 -> int8 -> float, or int8 ->
float), rebuild, evaluate. A model that meets the budget as it is keeps no layer and is the lossy mode's artifact byte
for byte. Every step is recorded (kept layers, bytes, quality), so the search result is a reproducible artifact.

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

from qbench import modes, quantizers
from qbench.errors import NotApplicable
from qbench.explain.cached import REFERENCE_MODE, SAMPLES, explanation, float_model, samples_of
from qbench.explain.compare import compare
from qbench.measure import evaluate
from qbench.runtime import Runner, get
from qbench.tasks.base import Budget, Task, Verdict

if TYPE_CHECKING:
    from qbench.modes import Mode
    from qbench.workspace import Workspace

SEARCH_DEVICES = ("xnnpack", "builtin")  # both kernel families the matrix runs quickly; each must meet the budget
NOT_KEPT = frozenset({"QUANTIZE", "DEQUANTIZE"})  # the mode's own conversions, not layers


def task_for(ws: Workspace, model_id: str, family: str) -> Task:
    """The model's task, with the budget of ``family`` replaced by ``--qbench-budget-target`` when given."""
    task = ws.task(model_id)
    target = ws.settings.get("budget_target")
    if target is None:
        return task
    changed = copy.copy(task)
    changed.budgets = {**task.budgets, family: Budget(float(target), task.budget_for(family).floor)}
    return changed


def target_of(ws: Workspace, model_id: str, family: str) -> float:
    return task_for(ws, model_id, family).budget_for(family).budget


@dataclass
class Step:
    kept: dict[str, str]  # output tensor name -> precision
    changed: str | None  # the layer this step raised (None: the lossy mode as it is)
    bytes: int
    quality: dict[str, float]  # device -> the task's primary metric
    within_budget: bool
    seconds: float

    def record(self) -> dict[str, Any]:
        return {"kept": dict(self.kept), "changed": self.changed, "bytes": self.bytes, "quality": self.quality,
                "within_budget": self.within_budget, "seconds": round(self.seconds, 2)}


@dataclass
class Search:
    """One search; ``run`` returns the chosen model's bytes."""

    ws: Workspace
    model_id: str
    mode: Mode
    steps: list[Step] = field(default_factory=list)
    budget: str = ""

    def run(self) -> bytes:
        ws, model_id, base = self.ws, self.model_id, modes.get(self.mode.base)
        task = task_for(ws, model_id, base.family)
        data = ws.eval_set(model_id)
        batch = ws.model(model_id).eval_batch
        floors = ws.model(model_id).floors_for(ws)
        references = {d: evaluate(Runner(ws.tflite(model_id, REFERENCE_MODE).path, get(d)), data, task, batch)
                      for d in SEARCH_DEVICES}

        def judge(path: Path) -> tuple[dict[str, float], bool, Verdict]:
            quality, met, verdict = {}, True, None
            for device, ref in references.items():
                result = evaluate(Runner(path, get(device)), data, task, batch, ref.predictions).result
                verdict = task.judge(result, ref.result, base.family, floors, is_reference=False)
                quality[device] = result[task.primary]
                met = met and bool(verdict.within_budget)
            return quality, met, verdict

        artifact = ws.tflite(model_id, base.id)
        current = artifact.path.read_bytes()
        start = time.perf_counter()
        quality, met, verdict = judge(artifact.path)
        self.budget = verdict.budget
        self.steps.append(Step({}, None, len(current), quality, met, time.perf_counter() - start))
        if met:
            return current
        backend = quantizers.get(base.backend)
        kept: dict[str, str] = {}
        reference = float_model(ws, model_id, base.id)
        inputs = samples_of(ws, model_id)
        with backend.keeper(ws, model_id, base) as keep, tempfile.TemporaryDirectory(prefix="qbench-budget-") as tmp:
            path = Path(tmp) / "candidate.tflite"
            table = explanation(ws, model_id, base.id)  # the lossy mode's own, cached for `qbench explain` too
            while True:
                start = time.perf_counter()
                layer = self._worst(table, base, kept)
                if layer is None:
                    done = (f"keeping all {len(kept)} quantized layers at {base.keep[-1]}" if kept else
                            "no layer of its per-layer table can be kept wider")
                    raise NotApplicable(
                        f"{self.mode.id} of {model_id}: {done} still misses the budget ({verdict.budget}; "
                        f"{self._quality(quality)})", "the loss is not in single layers: choose a wider mode",
                    )
                kept[layer] = _next(base.keep, kept.get(layer))
                current = keep(kept)
                path.write_bytes(current)
                quality, met, verdict = judge(path)
                self.steps.append(Step(dict(kept), layer, len(current), quality, met, time.perf_counter() - start))
                if met:
                    return current
                table = compare(reference, path, inputs, model=model_id, mode=self.mode.id)

    def _worst(self, table, base: Mode, kept: Mapping[str, str]) -> str | None:
        """The quantized layer adding the most error that can still be raised a step."""
        for layer in table.ranked():
            if (layer.quantized and layer.op not in NOT_KEPT and layer.added_snr_db is not None
                    and _next(base.keep, kept.get(layer.tensor)) is not None):
                return layer.tensor
        return None

    @staticmethod
    def _quality(quality: Mapping[str, float]) -> str:
        return ", ".join(f"{v:.4f} on {d}" for d, v in quality.items())

    def record(self) -> dict[str, Any]:
        last = self.steps[-1]
        return {"base": self.mode.base, "budget": self.budget, "devices": list(SEARCH_DEVICES), "samples": SAMPLES,
                "kept_layers": dict(last.kept), "bytes": last.bytes, "quality": last.quality,
                "steps": [s.record() for s in self.steps]}


def _next(ladder: tuple[str, ...], current: str | None) -> str | None:
    """The precision after ``current`` on the mode's ladder (the first when not kept yet; None at the top)."""
    if current is None:
        return ladder[0] if ladder else None
    position = ladder.index(current)
    return ladder[position + 1] if position + 1 < len(ladder) else None

"""A worked example of a new task: one module, one registration (``@TASKS.register``).

``toy-agreement`` scores a classifier by how often each mode's top-1 class agrees with float32's on the same inputs
(labels are carried but not needed). A task turns a batch's raw outputs into predictions (``reduce``), scores the
whole set (``score``; ``reference`` is float32's predictions on the same device), and judges a mode by its family's
budget and floor (``judge``). The report picks up its ``metrics`` and ``primary`` on its own.
"""

from __future__ import annotations

import numpy as np

from qbench import metrics
from qbench.tasks.base import TASKS, Budget, Metric, Task, Verdict


@TASKS.register
class ToyAgreement(Task):
    id = "toy-agreement"
    description = "top-1 agreement with float32 (a worked example)"
    primary = "toy_agreement"
    metrics = (Metric("toy_agreement", "Top-1 = float32 (%)", "Top-1 agreement with float32 (%)"),)
    budgets = {family: Budget(0.95, 0.5) for family in ("float", "8bit", "16bit", "4bit")}
    target_range = (0.0, 1.0)
    target_unit = "a fraction of float32's top-1 decisions kept, e.g. 0.99"

    def reduce(self, outputs, info):
        return np.asarray(outputs[0]).reshape(len(outputs[0]), -1).argmax(-1)

    def score(self, predictions, data, reference=None, outputs=()):
        if reference is None:
            return {"toy_agreement": 1.0, "toy_classes_seen": int(len(np.unique(predictions)))}
        return {"toy_agreement": metrics.agreement(reference, predictions)}

    def judge(self, result, reference, family, floors, is_reference) -> Verdict:
        rule = self.budget_for(family)
        verdict = Verdict(budget=f"top-1 agreement >= {rule.budget:g}")
        if is_reference:
            return verdict
        verdict.within_budget = result["toy_agreement"] >= rule.budget
        if result["toy_agreement"] < rule.floor:
            verdict.failures.append(f"top-1 agreement {result['toy_agreement']:.3f} is below {rule.floor:g}")
        return verdict

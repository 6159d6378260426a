"""The task registry: classification, segmentation, fidelity (one module each, see ``base.Task``).

A model names its task by id (``spec.task``, the string results carry); ``get`` gives the object that owns the
task's metrics, quality rules, report columns and figures, and sample pictures.
"""

from __future__ import annotations

from qbench.errors import lookup
from qbench.tasks.base import Metric, Task
from qbench.tasks.classification import TASK as CLASSIFICATION
from qbench.tasks.fidelity import TASK as FIDELITY
from qbench.tasks.segmentation import TASK as SEGMENTATION

TASKS: dict[str, Task] = {t.id: t for t in (CLASSIFICATION, SEGMENTATION, FIDELITY)}


def get(task_id: str) -> Task:
    return lookup(TASKS, task_id, "task")


def all_metrics() -> dict[str, Metric]:
    """Every task's quality metrics by key, in registry order (a key two tasks share is one metric)."""
    found: dict[str, Metric] = {}
    for task in TASKS.values():
        for metric in task.metrics:
            found.setdefault(metric.key, metric)
    return found


def infer(metric_keys) -> str:
    """The task of a result that does not say (written before results carried ``task``): the first task whose
    primary metric it has."""
    keys = set(metric_keys)
    return next((t.id for t in TASKS.values() if t.primary in keys), "classification")

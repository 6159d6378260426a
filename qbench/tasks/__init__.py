"""The task registry: classification, segmentation, fidelity (one module each, see ``base.Task``).

A model names its task by id (``spec.task``, the string results carry); ``get`` gives the object that owns the
task's metrics, quality rules, report columns and figures, and sample pictures. A new task is one module with a
``Task`` subclass decorated ``@TASKS.register`` (``tests/extensions/toy_task.py`` is a worked example).
"""

from __future__ import annotations

from qbench.tasks import classification, fidelity, segmentation  # noqa: F401  (they register themselves)
from qbench.tasks.base import TASKS, Metric, Task


def get(task_id: str) -> Task:
    return TASKS.get(task_id)


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

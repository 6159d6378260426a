"""What a task is: how a model's raw outputs become predictions, how predictions are scored, which quality
rules a mode must meet, and how the report and the sample pictures show it.

Every place that used to ask "is this classification or segmentation?" now asks the model's task object instead
(``qbench.tasks.get(spec.task)``), so a new task is one module and one registry entry. Tasks are pure numpy:
the report's figure *kinds* are named here and drawn by ``qbench.report.figures``; sample pictures import
matplotlib only when asked for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from qbench.errors import QbenchError
from qbench.registry import Registry

if TYPE_CHECKING:
    from qbench.data.base import EvalSet


#: The tasks by id (a model names its task by it, the string results carry): each registers itself.
TASKS: Registry[Task] = Registry("task")


@dataclass(frozen=True)
class Metric:
    """A quality number a task writes to ``extra_info``, higher is better, in [0, 1] unless ``percent`` is False."""

    key: str
    header: str  # table column
    label: str  # figure axis
    percent: bool = True  # shown x100
    gate_tol: str | None = None  # the GateConfig field that bounds its drop between two runs (None: not gated)

    def shown(self, value: float) -> float:
        """The value as tables and figures show it (x100 for fractions)."""
        return 100 * value if self.percent else value

    def cell(self, value: float | None) -> str:
        return "-" if value is None else f"{self.shown(value):.2f}" if self.percent else f"{value:.1f}"


@dataclass(frozen=True)
class FigureSpec:
    """A report figure: ``kind`` is drawn by qbench.report.figures (bars | size_tradeoff | latency_tradeoff |
    per_class_iou) for ``metric``."""

    suffix: str
    caption: str
    kind: str
    metric: str | None = None


@dataclass(frozen=True)
class Budget:
    """A family's rule for one task: ``budget`` is what the thesis's question asks of a mode (meeting it makes the
    mode a candidate), ``floor`` is where a conversion counts as broken and the suite fails."""

    budget: float
    floor: float


@dataclass
class Verdict:
    """What test_quality asserts and what every result records about its quality rules."""

    failures: list[str] = field(default_factory=list)  # floors broken: the test fails
    budget: str = ""  # the budget in words
    within_budget: bool | None = None  # None: the float32 reference itself, or nothing the rules could judge
    notes: list[str] = field(default_factory=list)  # what the rules could not judge, and why

    def info(self) -> dict[str, Any]:
        return {"quality_budget": self.budget, "within_budget": self.within_budget,
                "quality_failures": list(self.failures), "quality_notes": list(self.notes)}


@dataclass(frozen=True)
class OutputInfo:
    """What a task needs to know of a model output (the runner's TensorInfo has at least these)."""

    name: str
    shape: tuple[int, ...]  # per sample
    quant: Any  # qbench.quantize.QuantParams or None


class Task(ABC):
    id: str
    description: str
    labelled: bool = True  # scores against labels (False: against float32's outputs only)
    metrics: tuple[Metric, ...] = ()
    primary: str = ""  # the metric the budget is about
    eval_batch: int = 16  # samples per invoke while evaluating (models with a dynamic batch dimension)
    figures: tuple[FigureSpec, ...] = ()

    # evaluation --------------------------------------------------------------------------------------------
    @abstractmethod
    def reduce(self, outputs: Sequence[np.ndarray], info: Sequence[OutputInfo]) -> Any:
        """A batch's raw outputs (views into the runtime's buffers: copy what you keep) -> the batch's predictions."""

    def combine(self, parts: list) -> Any:
        """Per-batch predictions -> the whole set's (concatenated; tuples element-wise)."""
        if parts and isinstance(parts[0], tuple):
            return tuple(np.concatenate(p) for p in zip(*parts))
        return np.concatenate(parts)

    @abstractmethod
    def score(self, predictions: Any, data: EvalSet, reference: Any = None,
              outputs: Sequence[OutputInfo] = ()) -> dict[str, Any]:
        """Quality numbers; ``reference`` is the float32 model's predictions on the same device (None for float32),
        ``outputs`` the model's outputs (names, shapes)."""

    def fit_labels(self, y: np.ndarray | None, outputs: Sequence[OutputInfo], origin: str) -> np.ndarray | None:
        """A dataset's labels made to fit the model's outputs (masks resized to the output map); default as is."""
        return y

    def check_fit(self, outputs: Sequence[OutputInfo], data: EvalSet, origin: str) -> None:
        """Refuse labels that cannot be scored against the model's outputs (one error, before any case runs)."""

    # quality rules -----------------------------------------------------------------------------------------
    budgets: dict[str, Budget] = {}  # family -> budget and floor for the primary metric

    #: what ``--qbench-budget-target TASK=VALUE`` may say for this task: (lowest, highest) allowed, and its unit
    target_range: tuple[float, float] = (float("-inf"), float("inf"))
    target_unit: str = ""

    def check_target(self, value: float) -> None:
        """Refuse a budget target that cannot mean anything for this task (a fraction of float32's mIoU above 1)."""
        low, high = self.target_range
        if not low <= value <= high:
            raise QbenchError(f"--budget-target {self.id}={value:g} is outside {low:g}..{high:g} ({self.target_unit})",
                              f"give {self.id}= as {self.target_unit}")

    def budget_for(self, family: str) -> Budget:
        try:
            return self.budgets[family]
        except KeyError:
            raise QbenchError(f"task {self.id} has no quality budget for mode family {family!r}",
                              f"add it to {type(self).__module__}.budgets") from None

    @abstractmethod
    def judge(self, result: dict, reference: dict, family: str, floors: dict[str, float],
              is_reference: bool) -> Verdict:
        """The quality rules for one mode: ``reference`` is float32's result on the same device; ``floors`` the
        model's absolute floors for its float32 quality (empty: the task's own sanity floor applies)."""

    # pictures ----------------------------------------------------------------------------------------------
    sample_packages: tuple[str, ...] = ()  # what write_samples needs beyond matplotlib (checked before a run)

    #: evaluation samples the sample pictures show (None: the whole scored set)
    sample_count: int | None = None

    def write_samples(self, data: EvalSet, predictions: dict[str, Any], quality: dict[str, dict[str, Any]],
                      folder: Path) -> list[Path]:
        """Sample pictures (thesis figures 5.7, 5.13-5.16) into ``folder``: ``predictions`` are each mode's (this task's
        ``combine`` of ``reduce``) on ``data``, the first ``sample_count`` scored samples, and ``quality`` each mode's
        quality numbers."""
        return []


def chance_floor(labels: np.ndarray, ignore: int | None = None) -> float:
    """Quality a model without skill reaches: always predicting the most frequent label (ignored labels aside),
    plus 10 % of the way from there to perfect. A float32 model below it is garbage, whatever each mode does."""
    values = np.asarray(labels).ravel()
    if ignore is not None:
        values = values[values != ignore]
    if not values.size:
        return 0.0
    majority = float(np.bincount(values.astype(np.int64)).max() / values.size)
    return majority + 0.1 * (1.0 - majority)


def dequantized(raw: np.ndarray, quant) -> np.ndarray:
    """A raw output batch in real units (a float32 copy)."""
    from qbench.quantize import dequantize

    return dequantize(raw, quant) if quant is not None else np.array(raw, dtype=np.float32)

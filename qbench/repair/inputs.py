"""What the mixed-precision search reads of a model (``qbench.pipeline.inputs.ModelBuild`` has it)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from qbench.quantizers.base import BuildInputs

if TYPE_CHECKING:
    from qbench.data.base import EvalSet
    from qbench.modes import Mode
    from qbench.repair.layers import Explanation
    from qbench.tasks.base import Task


class RepairInputs(BuildInputs, Protocol):
    """What the search reads besides a backend's inputs (``qbench.pipeline.inputs.ModelBuild`` has it): the model's
    task, floors, evaluation set and batch, another mode's per-layer explanation, a backend's keeper."""

    eval_batch: int

    @property
    def task(self) -> Task: ...

    @property
    def floors(self) -> dict[str, float]: ...

    def eval_set(self) -> EvalSet: ...

    def explanation(self, mode_id: str) -> Explanation: ...

    def keeper(self, mode: Mode) -> AbstractContextManager: ...

    def reference_bytes(self, mode_id: str) -> bytes: ...

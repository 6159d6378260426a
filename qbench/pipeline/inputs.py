"""What a quantization backend receives to build one model's modes (``qbench.quantizers.base.BuildInputs``, and
``qbench.repair.budget.RepairInputs`` for the mixed-precision search): the model's facts, and lazy access to what a
backend may start from. Nothing is built until a backend asks for it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from qbench.cache import Artifact
from qbench.config.options import Settings
from qbench.data.base import EvalSet
from qbench.modes import MODES, REFERENCE_MODE, Mode
from qbench.tasks import get as task_of
from qbench.tasks.base import Task
from qbench.tflite_file import TfliteModel

if TYPE_CHECKING:
    from qbench.repair.layers import Explanation


class ModelBuild:
    def __init__(self, artifacts, model_id: str):
        """``artifacts``: where the model's files come from (``qbench.pipeline.artifacts.Artifacts``, or a bundle's,
        which can size a mode but build nothing)."""
        self._artifacts, self.model_id = artifacts, model_id
        spec = artifacts.spec(model_id)
        self.source_format = spec.source_format
        self.converter_args: dict[str, Any] = spec.converter_args()
        self.eval_batch = spec.eval_batch

    @property
    def settings(self) -> Settings:
        return self._artifacts.settings

    @property
    def cache(self):
        return self._artifacts.cache

    # what a backend starts from
    def source_key(self) -> dict[str, Any]:
        spec = self._artifacts.spec(self.model_id)
        return spec.key_parts(self._artifacts.context)

    def source(self) -> Artifact:
        return self._artifacts.source(self.model_id)

    def artifact(self, mode_id: str) -> Artifact:
        """Another mode's artifact of this model (float32 for ai-edge-quantizer, the lossy mode for +budget)."""
        return self._artifacts.tflite(self.model_id, mode_id)

    def float32(self) -> Artifact:
        return self.artifact(REFERENCE_MODE)

    def float_model(self) -> TfliteModel:
        return self._artifacts.float_model(self.model_id)

    def calibration(self) -> np.ndarray:
        return self._artifacts.calibration(self.model_id)

    def training(self):
        """The model's training split (``qbench.models.base.TrainingSet``; NotApplicable when it has none)."""
        return self._artifacts.spec(self.model_id).training(self._artifacts.context)

    def training_digest(self) -> dict[str, Any]:
        return self._artifacts.spec(self.model_id).training_digest(self._artifacts.context)

    def reference_bytes(self, mode_id: str) -> bytes:
        """The float model ``mode_id`` starts from (its backend says which), whose tensors its size is predicted
        from and its layers are explained against."""
        from qbench.quantizers import BACKENDS

        mode = MODES.get(mode_id)
        origin = MODES.get(mode.base) if mode.base else mode
        return BACKENDS.get(origin.backend).size_reference(self, origin)

    # what the mixed-precision search reads besides
    @property
    def task(self) -> Task:
        return task_of(self._artifacts.spec(self.model_id).task)

    @property
    def floors(self) -> dict[str, float]:
        return self._artifacts.spec(self.model_id).floors_for(self.settings)

    def eval_set(self) -> EvalSet:
        return self._artifacts.eval_set(self.model_id)

    def keeper(self, mode: Mode) -> AbstractContextManager:
        from qbench.quantizers import BACKENDS

        return BACKENDS.get(mode.backend).keeper(self, mode)

    def explanation(self, mode_id: str) -> Explanation:
        from qbench.repair.explainer import Explainer

        return Explainer(self._artifacts).explanation(self.model_id, mode_id)

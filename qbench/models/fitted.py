"""A model evaluated on a dataset kind: the dataset's samples fitted to the model's own input and outputs.

Shared by the models a user imports (``imported.spec``) and the pretrained ones qbench fetches (``mediapipe``):
the model's input and output shapes rule (read from its float32 .tflite, no TensorFlow), the dataset's samples
are fitted to them by ``qbench.data.preprocess`` and its labels checked against them by the task, once, before any
case runs (``Workspace.prepare``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qbench import tasks
from qbench.data import registry as datasets
from qbench.data.base import Data, DatasetKind, EvalSet
from qbench.data.preprocess import fit_inputs, scale_pixels
from qbench.errors import QbenchError
from qbench.models.registry import ModelSpec

if TYPE_CHECKING:
    from qbench.workspace import Workspace


class DataFitted(ModelSpec):
    """Subclasses set ``dataset_text`` (``KIND[:PATH]``), ``input_range`` and optionally ``input_shape``."""

    dataset_text: str
    data_kind: DatasetKind
    data_path: Path | None
    input_range: tuple[float, float]
    input_shape: tuple[int, ...] | None = None  # shape= (with the batch dimension), when given

    def set_dataset(self, text: str) -> None:
        try:
            self.data_kind, self.data_path = datasets.parse(text)
        except QbenchError as exc:
            raise QbenchError(f"model {self.id}: {exc.problem}", exc.fix) from None
        self.dataset_text = text

    @property
    def read_hint(self) -> tuple[int, ...] | None:
        """The per-sample size shape= gives, which a dataset of large files may read at (Cityscapes)."""
        return self.input_shape[1:] if self.input_shape else None

    def data(self, ws: Workspace) -> Data:
        return ws.dataset(self.dataset_text, self.read_hint)

    def _inputs(self, ws: Workspace, raw: np.ndarray, data: Data) -> np.ndarray:
        shape = ws.input_shape(self.id)
        if self.input_shape is not None and tuple(self.input_shape[1:]) != shape:
            raise QbenchError(f"model {self.id}: shape={'x'.join(map(str, self.input_shape))} but the model "
                              f"takes {'x'.join(map(str, shape))} per sample", "drop shape= or correct it")
        x = fit_inputs(raw, shape, images=data.images, origin=data.origin)
        if not data.pixels:
            return np.asarray(x, np.float32)
        return scale_pixels(x, self.input_range)

    def eval_set(self, ws: Workspace) -> EvalSet:
        data = self.data(ws)
        if not data.pixels and self.input_range != self.data_kind.default_range:
            raise QbenchError(f"model {self.id}: range= maps uint8 pixels, but {data.origin} holds float arrays "
                              "that are used as they are", "drop range= (or store the inputs as uint8 pixels)")
        outputs = ws.output_info(self.id)
        task = tasks.get(self.task)
        y = task.fit_labels(data.eval_y, outputs, data.origin) if task.labelled else None
        classes = len(data.class_names) or (int(np.prod(outputs[0].shape[-1:])) if outputs else 0)
        result = EvalSet(self._inputs(ws, data.eval_x, data), y, classes, data.class_names)
        task.check_fit(outputs, result, f"model {self.id} on {data.origin}")
        return result

    def calibration(self, ws: Workspace) -> np.ndarray:
        data = self.data(ws)
        return self._inputs(ws, data.calibration, data)

"""A model evaluated on a dataset kind: the dataset's samples fitted to the model's own input and outputs.

Every model but the pretrained wheel-less ones is one: the built-in models (``mnist_cnn`` on ``dataset=mnist``,
``deeplab_scenes`` on ``dataset=scenes``), the models a user imports (``imported.spec``) and MediaPipe's (``mediapipe``).
The model's input and output shapes rule (declared by a built-in model, else read from its float32 .tflite, no
TensorFlow), the dataset's samples are fitted to them by ``qbench.data.preprocess`` and its labels checked against
them by the task, once, before any case runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qbench import data as datasets
from qbench import tasks
from qbench.data.base import Data, DatasetKind, EvalSet
from qbench.data.preprocess import fit_inputs, scale_pixels
from qbench.errors import NotApplicable, QbenchError
from qbench.models.base import ModelContext, ModelSpec, TrainingSet


class DataFitted(ModelSpec):
    """Subclasses set the dataset (``set_dataset``), ``input_range`` and optionally ``input_shape``."""

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

    def read_hint(self, ctx: ModelContext) -> tuple[int, ...] | None:
        """The per-sample size to read the data at: shape= if given, else what the model declares (a dataset of
        large files, Cityscapes' 2048x1024 frames, or one drawn at any size, the scenes, reads at it)."""
        if self.input_shape:
            return tuple(self.input_shape[1:])
        declared = self.declared_io(ctx.settings)
        return declared.input_shape if declared else None

    def data(self, ctx: ModelContext) -> Data:
        return ctx.data(self.dataset_text, self.read_hint(ctx))

    def _inputs(self, ctx: ModelContext, raw: np.ndarray, data: Data) -> np.ndarray:
        shape = ctx.io(self.id).input_shape
        if self.input_shape is not None and tuple(self.input_shape[1:]) != shape:
            raise QbenchError(f"model {self.id}: shape={'x'.join(map(str, self.input_shape))} but the model "
                              f"takes {'x'.join(map(str, shape))} per sample", "drop shape= or correct it")
        x = fit_inputs(raw, shape, images=data.images, origin=data.origin)
        if not data.pixels:
            return np.asarray(x, np.float32)
        return scale_pixels(x, self.input_range)

    def eval_set(self, ctx: ModelContext) -> EvalSet:
        data = self.data(ctx)
        if not data.pixels and self.input_range != self.data_kind.default_range:
            raise QbenchError(f"model {self.id}: range= maps uint8 pixels, but {data.origin} holds float arrays "
                              "that are used as they are", "drop range= (or store the inputs as uint8 pixels)")
        outputs = list(ctx.io(self.id).outputs)
        task = tasks.get(self.task)
        y = task.fit_labels(data.eval_y, outputs, data.origin) if task.labelled else None
        classes = len(data.class_names) or (int(np.prod(outputs[0].shape[-1:])) if outputs else 0)
        result = EvalSet(self._inputs(ctx, data.eval_x, data), y, classes, data.class_names)
        task.check_fit(outputs, result, f"model {self.id} on {data.origin}")
        return result

    def training(self, ctx: ModelContext) -> TrainingSet:
        data = self.data(ctx)
        if data.training is None:
            raise NotApplicable(f"{data.origin} has no training split to fine-tune {self.id} on ({data.split_rule})",
                                "give a dataset with a train split (idx:, npz: with x_train/y_train, mnist, scenes)")
        raw, labels = data.training()
        task = tasks.get(self.task)
        y = task.fit_labels(labels, list(ctx.io(self.id).outputs), data.origin) if task.labelled else None
        return TrainingSet(raw, y, lambda batch: self._inputs(ctx, batch, data))

    def training_digest(self, ctx: ModelContext) -> dict[str, Any]:
        return {"dataset": self.data(ctx).digest}

    def calibration(self, ctx: ModelContext) -> np.ndarray:
        data = self.data(ctx)
        return self._inputs(ctx, data.calibration, data)

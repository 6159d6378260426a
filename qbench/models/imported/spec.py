"""A user's model file with the data it is evaluated and calibrated on: the ModelSpec the pipeline runs.

The model's own input and output shapes rule (read from its float32 .tflite, no TensorFlow): the dataset's
samples are fitted to them by ``qbench.data.preprocess`` and its labels checked against them by the task, once,
before any case runs (``Workspace.prepare``). A ready .tflite is checked when it is imported, so a damaged file is
refused by its own name rather than failing later as a cache copy.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qbench import tasks
from qbench.data import registry as datasets
from qbench.data.base import Data, EvalSet
from qbench.data.preprocess import fit_inputs, scale_pixels
from qbench.errors import QbenchError
from qbench.models.imported.formats import content_sha256, detect_format, file_stamp, pack_saved_model
from qbench.models.registry import ModelSpec
from qbench.tflite_file import TfliteModel

if TYPE_CHECKING:
    from qbench.workspace import Workspace


class ImportedModel(ModelSpec):
    """See the module docstring; ``qbench.models.imported.option`` parses the command-line form."""

    def __init__(
        self,
        id: str,
        path: Path | str,
        *,
        dataset: str,
        format: str | None = None,
        task: str | None = None,
        input_arrays: list[str] | None = None,
        output_arrays: list[str] | None = None,
        input_shape: tuple[int, ...] | None = None,
        input_range: tuple[float, float] | None = None,
    ):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", id or ""):
            raise QbenchError(f"model id {id!r} is not usable", "use letters, digits, _ . - (e.g. deeplab_thesis)")
        self.id, self.path = id, Path(path).expanduser().absolute()
        if not self.path.exists():
            raise QbenchError(f"model {id}: {self.path} does not exist", "give the model file or SavedModel folder")
        self.format = detect_format(id, self.path, format)
        try:
            self.data_kind, self.data_path = datasets.parse(dataset)
        except QbenchError as exc:
            raise QbenchError(f"model {id}: {exc.problem}", exc.fix) from None
        self.dataset_text = dataset
        self.task = task or self.data_kind.task
        if self.task not in tasks.TASKS:
            raise QbenchError(f"model {id}: unknown task {self.task!r}", f"use task={'|'.join(tasks.TASKS)}")
        if self.task not in (self.data_kind.task, "fidelity"):
            raise QbenchError(f"model {id}: task {self.task} does not fit dataset {self.data_kind.id} "
                              f"(its labels are for {self.data_kind.task})",
                              f"drop task=, or use task={self.data_kind.task} or task=fidelity")
        self.input_arrays, self.output_arrays = list(input_arrays or []), list(output_arrays or [])
        if self.format == "frozen_graph":
            if len(self.input_arrays) != 1 or len(self.output_arrays) != 1:
                raise QbenchError(f"model {id}: a frozen graph needs exactly one inputs= and one outputs= array",
                                  "e.g. inputs=sub_7,outputs=ResizeBilinear_2 (as in thesis Code Listing 3.7)")
        elif self.input_arrays or self.output_arrays:
            raise QbenchError(f"model {id}: inputs=/outputs= apply to frozen graphs only, not {self.format}",
                              "drop them (the model's own signature names its arrays)")
        self.input_shape = tuple(input_shape) if input_shape else None
        if self.input_shape is not None and len(self.input_shape) < 2:
            raise QbenchError(f"model {id}: shape={'x'.join(map(str, self.input_shape))} has no batch dimension",
                              "give shape=NxHxWxC (N is the batch, e.g. 1x256x512x3)")
        self.input_range = tuple(input_range) if input_range else self.data_kind.default_range
        if not self.input_range[0] < self.input_range[1]:
            raise QbenchError(f"model {id}: range {self.input_range} is empty", "give range=LO:HI with LO < HI")
        self.description = f"imported {self.format} {self.path.name}, {self.task} on {dataset}"
        suffix = {"keras": self.path.suffix, "saved_model": ".tar", "frozen_graph": ".pb", "tflite": ".tflite"}
        self.source_filename = "model" + suffix[self.format]
        self.source_format = self.format
        self.eval_batch = tasks.get(self.task).eval_batch
        if self.format == "frozen_graph":  # v1 frozen-graph conversion fixes the batch to 1
            self.eval_batch = 1
        if self.format == "tflite":
            model = TfliteModel.read(self.path)  # a damaged file is refused here, by its own name
            if model.inputs and model.inputs[0].shape_signature[:1] != (-1,):
                self.eval_batch = 1  # exported with a fixed batch
        self._sha: tuple[tuple, str] | None = None

    # identity ----------------------------------------------------------------------------------------------
    def sha256(self) -> str:
        """The model's content hash, recomputed only when a file's size or mtime changed."""
        stamp = file_stamp(self.path)
        if self._sha is None or self._sha[0] != stamp:
            self._sha = (stamp, content_sha256(self.path))
        return self._sha[1]

    @property
    def read_hint(self) -> tuple[int, ...] | None:
        """The per-sample size shape= gives, which a dataset of large files may read at (Cityscapes)."""
        return self.input_shape[1:] if self.input_shape else None

    def data(self, ws: Workspace) -> Data:
        return ws.dataset(self.dataset_text, self.read_hint)

    def key_parts(self, ws: Workspace) -> dict[str, Any]:
        return {
            "model": self.id,
            "imported": self.format,
            "sha256": self.sha256(),
            "dataset": self.data_kind.id,
            "calibration_data": None if self.format == "tflite" else self.data(ws).digest,
            "input_shape": self.input_shape,
            "input_range": self.input_range,
        }

    # data fitted to the model ------------------------------------------------------------------------------
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

    # build -------------------------------------------------------------------------------------------------
    def build_source(self, ws: Workspace, path: Path) -> dict[str, Any]:
        if self.format == "frozen_graph":
            from qbench.models.imported.frozen_graph import check_frozen_graph

            check_frozen_graph(self.path, self.input_arrays, self.output_arrays, self.input_shape is not None)
        if self.format == "saved_model":
            pack_saved_model(self.path, path)
        else:
            shutil.copyfile(self.path, path)
        return {"imported_from": str(self.path), "imported_sha256": self.sha256()}

    def converter_args(self) -> dict[str, Any]:
        if self.format != "frozen_graph":
            return {}
        shapes = {self.input_arrays[0]: list(self.input_shape)} if self.input_shape else None
        return {"input_arrays": self.input_arrays, "output_arrays": self.output_arrays, "input_shapes": shapes}


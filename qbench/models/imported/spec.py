"""A user's model file with the data it is evaluated and calibrated on: the ModelSpec the pipeline runs.

The dataset is fitted to the model by ``qbench.models.fitted``. A ready .tflite is checked when it is imported, so
a damaged file is refused by its own name rather than failing later as a cache copy.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from qbench import tasks
from qbench.errors import QbenchError
from qbench.models.base import ModelContext
from qbench.models.fitted import DataFitted
from qbench.models.imported.formats import content_sha256, detect_format, file_stamp, pack_saved_model
from qbench.tflite_file import TfliteModel


class ImportedModel(DataFitted):
    """See the module docstring; ``qbench.models.imported.option`` parses the command-line form."""

    origin = "imported"

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
        self.set_dataset(dataset)
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

    def key_parts(self, ctx: ModelContext) -> dict[str, Any]:
        return {
            "model": self.id,
            "imported": self.format,
            "sha256": self.sha256(),
            "dataset": self.data_kind.id,
            "calibration_data": None if self.format == "tflite" else self.data(ctx).digest,
            "input_shape": self.input_shape,
            "input_range": self.input_range,
        }

    # build -------------------------------------------------------------------------------------------------
    def build_source(self, ctx: ModelContext, path: Path) -> dict[str, Any]:
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


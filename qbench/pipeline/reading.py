"""What the run stage reads of a model's files, the same from the cache and from a bundle."""

from __future__ import annotations

from qbench.pipeline.inputs import ModelBuild
from qbench.tflite_file import TfliteModel


class FileReads:
    """Mixed into an artifact source that has ``spec(model)`` and ``tflite(model, mode)``."""

    def build_inputs(self, model_id: str) -> ModelBuild:
        """What a backend receives to build (or size) one of this model's modes."""
        return ModelBuild(self, model_id)

    def model_file(self, model_id: str, mode_id: str) -> TfliteModel:
        """What a mode's file contains (no interpreter)."""
        return TfliteModel.read(self.tflite(model_id, mode_id).path)

    def size_reference(self, model_id: str, mode_id: str) -> TfliteModel:
        """The float model a mode starts from, which its size is predicted from (its backend says which)."""
        return TfliteModel(self.build_inputs(model_id).reference_bytes(mode_id), f"{model_id} float model for {mode_id}")

"""The build machine's artifacts: each model's source and its .tflite per mode, from the content-addressed cache and
built on a miss by the backend its mode names; evaluation sets and calibration data, read once per session.

Models receive a ``ModelContext`` (``SpecContext`` here: settings, cache, datasets, a model's input and outputs);
backends receive the ``ModelBuild`` of the model they build (``qbench.quantizers.base.BuildInputs``). Nothing here
reads LiteRT's runtime or TensorFlow itself: a spec or a backend does, when the cache misses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qbench.cache import Artifact, Cache
from qbench.data.base import Data, EvalSet
from qbench.modes import MODES, REFERENCE_MODE
from qbench.models.base import ModelIO, ModelSpec
from qbench.pipeline.catalog import Catalog
from qbench.pipeline.datasets import Datasets
from qbench.errors import QbenchError
from qbench.pipeline.memo import Memo, Refusals
from qbench.pipeline.reading import FileReads
from qbench.quantizers import BACKENDS
from qbench.repair import budget  # noqa: F401  (registers the +budget backend, which sits above the quantizers)
from qbench.tasks.base import OutputInfo
from qbench.tflite_file import TfliteModel


class SpecContext:
    """What a model spec receives (``qbench.models.base.ModelContext``)."""

    def __init__(self, datasets: Datasets, io):
        self._datasets, self._io = datasets, io

    @property
    def settings(self):
        return self._datasets.settings

    @property
    def cache(self) -> Cache:
        return self._datasets.cache

    def data(self, text: str, fit: tuple[int, ...] | None = None) -> Data:
        return self._datasets.data(text, fit)

    def io(self, model_id: str) -> ModelIO:
        return self._io(model_id)


class Artifacts(FileReads):
    #: builds what the cache lacks (a bundle's artifacts cannot)
    builds = True

    def __init__(self, cache: Cache, catalog: Catalog, datasets: Datasets):
        self.cache, self.catalog, self.settings = cache, catalog, datasets.settings
        self.context = SpecContext(datasets, self.io)
        self._datasets = datasets
        self._memo = Memo(light=frozenset({"tflite", "source-info"}))
        self._refused = Refusals()

    def refuse(self, model_id: str, mode_id: str | None, error: QbenchError) -> None:
        """Raise ``error`` for the model's ``mode_id`` artifact (None: its source) instead of building it here."""
        self._refused.add(("tflite", model_id, mode_id) if mode_id else ("source", model_id), error)

    def spec(self, model_id: str) -> ModelSpec:
        return self.catalog.get(model_id)

    # -- what the run stage reads --------------------------------------------------------------------------------
    def eval_set(self, model_id: str) -> EvalSet:
        return self._memo.get(("eval", model_id), lambda: self.spec(model_id).eval_set(self.context))

    def tflite(self, model_id: str, mode_id: str) -> Artifact:
        """The model's .tflite in one mode, from the cache or built by the mode's backend. Raises NotApplicable
        (the case skips with the reason) when the mode cannot apply to the model; that verdict is cached too."""
        mode = MODES.get(mode_id)
        backend = BACKENDS.get(mode.backend)
        self._refused.check(("tflite", model_id, mode_id))

        def make() -> Artifact:
            inputs = self.build_inputs(model_id)
            backend.check(inputs, mode)
            return self.cache.get_or_build(
                "tflite", backend.key(inputs, mode), f"{model_id}-{mode_id}.{mode.format}",
                lambda path: backend.build(inputs, mode, path), label=f"{model_id} {mode_id}.{mode.format}",
            )

        return self._memo.get(("tflite", model_id, mode_id), make)

    def cached(self, model_id: str, mode_id: str) -> bool:
        """Whether the cache holds the artifact (building nothing; NotApplicable if the mode cannot apply). What the
        mode starts from must be cached first: its key is read from it."""
        mode = MODES.get(mode_id)
        backend = BACKENDS.get(mode.backend)
        start = backend.starts_from(mode)
        if start is not None and not self.cached(model_id, start):
            return False
        inputs = self.build_inputs(model_id)
        backend.check(inputs, mode)
        return self.cache.lookup("tflite", backend.key(inputs, mode)) is not None

    def float_model(self, model_id: str) -> TfliteModel:
        return self._memo.get(("float-model", model_id), lambda: self.model_file(model_id, REFERENCE_MODE))

    def io(self, model_id: str) -> ModelIO:
        """The model's input and outputs: as a built-in model declares them, else from its float32 file."""
        declared = self.spec(model_id).declared_io(self.settings)
        if declared is not None:
            return declared
        model = self.float_model(model_id)
        return ModelIO(tuple(model.inputs[0].shape[1:]),
                       tuple(OutputInfo(t.name, tuple(t.shape[1:]), None) for t in model.outputs))

    # -- build stage ---------------------------------------------------------------------------------------------
    def source(self, model_id: str) -> Artifact:
        """The model as trained, shipped or imported (Keras, SavedModel tar, frozen graph, .tflite), cached."""
        spec = self.spec(model_id)
        self._refused.check(("source", model_id))
        return self._memo.get(("source", model_id), lambda: self.cache.get_or_build(
            "source", spec.key_parts(self.context), spec.source_filename,
            lambda path: spec.build_source(self.context, path), label=f"{model_id} source model"))

    def calibration(self, model_id: str) -> np.ndarray:
        return self._memo.get(("calibration", model_id), lambda: self.spec(model_id).calibration(self.context))

    def source_info(self, model_id: str) -> dict[str, Any]:
        """Where the model came from (``source``: shipped | trained | imported | pretrained) and the sha256 of the
        file every mode was made from (``weights_sha256``)."""

        def make() -> dict[str, Any]:
            spec = self.spec(model_id)
            parts = spec.key_parts(self.context)
            artifact = self.cache.lookup("source", parts)
            origin = (artifact.manifest.get("origin") if artifact else None) or parts.get("origin") or spec.origin
            return {"source": origin, "weights_sha256": artifact.sha256 if artifact else parts.get("sha256")}

        return self._memo.get(("source-info", model_id), make)

    def prepare(self, model_id: str) -> None:
        """Read and check a model's evaluation data now: a bad dataset is one error before any case runs."""
        self.eval_set(model_id)

    def release(self, keep: str | None = None) -> None:
        self._memo.release(keep)
        self._datasets.release(keep)

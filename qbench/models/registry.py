"""What the pipeline needs to know about a model: how to build it, calibrate it and evaluate it.

A ModelSpec is split along the two stages: ``key_parts``, ``eval_set`` and ``task`` are run-stage (numpy
only); ``build_source`` and ``calibration`` are build-stage and may import TensorFlow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qbench.data.base import EvalSet  # noqa: F401  (models build EvalSets; re-exported for them)
from qbench.errors import QbenchError, lookup

if TYPE_CHECKING:
    from qbench.workspace import Workspace


class ModelSpec(ABC):
    id: str
    task: str  # a qbench.tasks id: classification | segmentation | fidelity
    description: str
    source_format: str = "keras"  # what build_source writes: keras | saved_model | frozen_graph
    source_filename: str = "model.keras"
    eval_batch: int = 250
    #: Absolute floors for the float32 model's quality, where the dataset makes them meaningful.
    floors: dict[str, float] = {}
    #: In the default selection (False: only when asked for by id or with ``all``; e.g. pretrained downloads).
    default: bool = True
    #: Where the source model comes from when its cache entry does not say: trained | imported | pretrained
    origin: str = "trained"

    @abstractmethod
    def key_parts(self, ws: Workspace) -> dict[str, Any]:
        """Everything that determines the trained model's weights (recipe, seed, data digest)."""

    @abstractmethod
    def eval_set(self, ws: Workspace) -> EvalSet: ...

    @abstractmethod
    def calibration(self, ws: Workspace) -> np.ndarray:
        """Representative inputs for full-integer calibration (float, model input layout)."""

    @abstractmethod
    def build_source(self, ws: Workspace, path: Path) -> dict[str, Any]:
        """Train (or import) the model and save it at ``path``; return facts for the manifest."""

    def floors_for(self, ws: Workspace) -> dict[str, float]:
        """The floors that apply to this workspace's variant of the model (e.g. its input size)."""
        return dict(self.floors)

    def converter_args(self) -> dict[str, Any]:
        """Extra arguments for the converter backend (frozen graphs: input/output array names)."""
        return {}


_MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.id in _MODELS:
        raise QbenchError(f"model id {spec.id!r} is registered twice", "give each model its own id")
    _MODELS[spec.id] = spec
    return spec


def models() -> dict[str, ModelSpec]:
    _load_builtins()
    return dict(_MODELS)


def get(model_id: str) -> ModelSpec:
    return lookup(models(), model_id, "model")


BUILTIN_MODULES = ("mnist_cnn", "deeplab_scenes", "mediapipe")


def _builtin_modules() -> list:
    import importlib

    return [importlib.import_module(f"qbench.models.{name}") for name in BUILTIN_MODULES]  # they register themselves


def _load_builtins() -> None:
    _builtin_modules()


def options() -> tuple:
    """The options the built-in models declare beside their code (``OPTIONS``)."""
    return tuple(o for module in _builtin_modules() for o in getattr(module, "OPTIONS", ()))

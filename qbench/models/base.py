"""What the pipeline needs to know about a model: where its source comes from, and what it is evaluated and
calibrated on.

A ``ModelSpec`` is split along the two stages: ``key_parts``, ``eval_set``, ``floors_for`` and ``task`` are run-stage
(numpy only); ``build_source`` and ``calibration`` are build-stage and may import TensorFlow. Every method receives a
``ModelContext`` -- the settings, the cache, the session's datasets and the shapes of a model's float32 file -- and
nothing else of the session.

The built-in models register themselves in ``MODELS`` (``qbench/models/__init__.py`` imports them); a session's
``qbench.pipeline.Catalog`` holds them together with the user's models of that session.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np

from qbench.data.base import Data, EvalSet  # noqa: F401  (models build EvalSets; re-exported for them)
from qbench.registry import Registry

if TYPE_CHECKING:
    from qbench.cache import Cache
    from qbench.config.options import Option, Settings
    from qbench.tasks.base import OutputInfo


@dataclass(frozen=True)
class TrainingSet:
    """A model's training split: raw samples as the dataset holds them (uint8 pixels or float arrays), labels fitted
    to the model's outputs (class ids, masks; None: unlabelled) and ``fit``, which turns a batch of raw samples
    into model inputs (fitted batch by batch: 600 float frames at 256x512 would take ~1 GB)."""

    raw: np.ndarray
    y: np.ndarray | None
    fit: Callable[[np.ndarray], np.ndarray]

    def __len__(self) -> int:
        return len(self.raw)


@dataclass(frozen=True)
class ModelIO:
    """A model's input (per-sample shape of input 0) and outputs, as its float32 file has them."""

    input_shape: tuple[int, ...]
    outputs: tuple[OutputInfo, ...]


class ModelContext(Protocol):
    """What a model spec may use (``qbench.pipeline.Datasets`` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def cache(self) -> Cache: ...

    def data(self, text: str, fit: tuple[int, ...] | None = None) -> Data:
        """The data of ``dataset=KIND[:PATH]``, read once per session (``fit``: the per-sample size to read at)."""

    def io(self, model_id: str) -> ModelIO:
        """The model's input and outputs (declared by a built-in model, else read from its float32 file)."""


class ModelSpec(ABC):
    id: str
    task: str  # a qbench.tasks id: classification | segmentation | fidelity
    description: str
    source_format: str = "keras"  # what build_source writes: keras | saved_model | frozen_graph | tflite
    source_filename: str = "model.keras"
    eval_batch: int = 250
    #: Absolute floors for the float32 model's quality, where the dataset makes them meaningful.
    floors: dict[str, float] = {}
    #: In the default selection (False: only when asked for by id or with ``all``; e.g. pretrained downloads).
    default: bool = True
    #: Where the source model comes from when its cache entry does not say: trained | imported | pretrained
    origin: str = "trained"
    #: The settings this model declares (``qbench.config`` gathers them into the command lines).
    options: tuple[Option, ...] = ()

    @abstractmethod
    def key_parts(self, ctx: ModelContext) -> dict[str, Any]:
        """Everything that determines the source model's bytes (recipe, seed, data digest)."""

    @abstractmethod
    def eval_set(self, ctx: ModelContext) -> EvalSet: ...

    @abstractmethod
    def calibration(self, ctx: ModelContext) -> np.ndarray:
        """Representative inputs for full-integer calibration (float, model input layout)."""

    @abstractmethod
    def build_source(self, ctx: ModelContext, path: Path) -> dict[str, Any]:
        """Train (or import) the model and save it at ``path``; return facts for the manifest."""

    def floors_for(self, settings: Settings) -> dict[str, float]:
        """The floors that apply to this run's variant of the model (e.g. its input size)."""
        return dict(self.floors)

    def declared_io(self, settings: Settings) -> ModelIO | None:
        """The input and outputs a built-in model is known to have (None: read them from its float32 file), so its
        data can be read before anything is converted."""
        return None

    def training(self, ctx: ModelContext) -> TrainingSet:
        """The training split a backend may fine-tune on (quantization-aware training), disjoint from the evaluated
        samples; raises ``qbench.errors.NotApplicable`` when the model's data has none."""
        from qbench.errors import NotApplicable

        raise NotApplicable(f"model {self.id} has no training split to fine-tune on",
                            "give it a dataset with a train split (e.g. dataset=idx:DIR)")

    def training_digest(self, ctx: ModelContext) -> dict[str, Any]:
        """What identifies the training split's content, computed without reading all of it (a cache-key part)."""
        return {}

    def converter_args(self) -> dict[str, Any]:
        """Extra arguments for the converter backend (frozen graphs: input/output array names)."""
        return {}


#: The built-in models (a session's ``Catalog`` adds the user's to them).
MODELS: Registry[ModelSpec] = Registry("model")

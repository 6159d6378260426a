"""What a quantization backend is: it turns a model into one mode's .tflite, or says why it cannot.

A backend is one module with a ``Backend`` subclass decorated ``@BACKENDS.register`` (and, for modes of its own,
``MODES.register(Mode(...))``); ``tests/extensions/toy_backend.py`` is a worked example. It declares what a mode
starts from (``starts_from``: the source model, or another mode's artifact such as the float32 .tflite), and the
pipeline asks it for the cache key of a model x mode (everything that determines the artifact's bytes), whether the
mode applies at all (a converter mode needs a Keras / SavedModel / frozen-graph source; an AEQ recipe needs float32
weights), and to build the artifact on a cache miss. Each method receives the model's ``BuildInputs`` and nothing
else of the session. A backend that can quantize all but a chosen set of layers offers ``keeper`` for the budgeted
mixed-precision search (``qbench.repair``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

import numpy as np

from qbench.errors import NotApplicable
from qbench.modes import REFERENCE_MODE, Mode
from qbench.registry import Registry

if TYPE_CHECKING:
    from qbench.cache import Artifact, Cache
    from qbench.config.options import Settings
    from qbench.models.base import TrainingSet
    from qbench.tasks.base import Task
    from qbench.tflite_file import TfliteModel

#: builds a mode's model bytes with some layers (output tensor name -> precision from ``Mode.keep``) kept wider
Keeper = Callable[[Mapping[str, str]], bytes]


class BuildInputs(Protocol):
    """One model, as a backend sees it (``qbench.pipeline.inputs.ModelBuild``): its facts, and lazy access to what a
    mode may start from -- asking for one builds it if the cache lacks it."""

    model_id: str
    source_format: str  # keras | saved_model | frozen_graph | tflite
    converter_args: dict[str, Any]

    @property
    def settings(self) -> Settings: ...

    @property
    def cache(self) -> Cache:
        """Where a backend may keep an intermediate artifact of its own (``qat``: the fine-tuned weights)."""

    def source_key(self) -> dict[str, Any]:
        """What determines the source model's bytes (part of every key made from it)."""

    def source(self) -> Artifact: ...

    def artifact(self, mode_id: str) -> Artifact: ...

    def float32(self) -> Artifact: ...

    def float_model(self) -> TfliteModel: ...

    def calibration(self) -> np.ndarray: ...

    @property
    def task(self) -> Task: ...

    def training(self) -> TrainingSet:
        """The training split, disjoint from the evaluated samples (NotApplicable when the data has none)."""

    def training_digest(self) -> dict[str, Any]:
        """What identifies the training split's content (a cache-key part), without reading all of it."""


class Backend(ABC):
    id: str
    description: str

    def starts_from(self, mode: Mode) -> str | None:
        """The mode whose artifact ``mode`` is made from (None: the model's source)."""
        return None

    def check(self, inputs: BuildInputs, mode: Mode) -> None:
        """Raise ``qbench.errors.NotApplicable`` (the cases skip with its reason) when the mode cannot apply."""

    def size_reference(self, inputs: BuildInputs, mode: Mode) -> bytes:
        """The float model the mode starts from, whose tensors ``qbench.size`` predicts the artifact's size from."""
        return inputs.float32().path.read_bytes()

    @abstractmethod
    def key(self, inputs: BuildInputs, mode: Mode) -> dict[str, Any]:
        """Everything that determines the artifact's bytes (computed without building anything expensive)."""

    @abstractmethod
    def build(self, inputs: BuildInputs, mode: Mode, path: Path) -> dict[str, Any]:
        """Write the artifact at ``path``; return facts for its cache manifest."""

    def keeper(self, inputs: BuildInputs, mode: Mode) -> AbstractContextManager[Keeper]:
        """A context giving a function that builds ``mode`` with the layers it is given kept at higher precision.
        A context because it may hold state across calls (a calibration, an unpacked SavedModel)."""
        raise NotApplicable(f"the {self.id} backend cannot keep single layers of {mode.id} at higher precision",
                            "choose a mode whose backend can (qbench list: modes with a +budget variant)")


#: The quantization backends by id (a mode names its backend); each registers itself.
BACKENDS: Registry[Backend] = Registry("quantization backend")
__all__ = ["BACKENDS", "Backend", "BuildInputs", "Keeper", "REFERENCE_MODE"]

"""What a quantization backend is: it turns a model into one mode's .tflite, or says why it cannot.

A backend is one module under ``qbench/quantizers/`` and one entry in ``BACKENDS`` (``__init__.py``). The Workspace
asks it for the cache key of a model x mode (everything that determines the artifact's bytes), whether the mode
applies at all (a converter mode needs a Keras / SavedModel / frozen-graph source; an AEQ recipe needs float32
weights), and to build the artifact on a cache miss. A backend that can quantize all but a chosen set of layers
offers ``keeper`` for the budgeted mixed-precision search (``qbench.explain.search``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from qbench.errors import NotApplicable
from qbench.modes import Mode

#: builds a mode's model bytes with some layers (output tensor name -> precision from ``Mode.keep``) kept wider
Keeper = Callable[[Mapping[str, str]], bytes]

if TYPE_CHECKING:
    from qbench.workspace import Workspace


class Backend(ABC):
    id: str
    description: str

    def check(self, ws: Workspace, model_id: str, mode: Mode) -> None:
        """Raise ``qbench.errors.NotApplicable`` (the cases skip with its reason) when the mode cannot apply."""

    def size_reference(self, ws: Workspace, model_id: str) -> bytes:
        """The float model the mode starts from, whose tensors ``qbench.size`` predicts the artifact's size from."""
        return ws.tflite(model_id, "float32").path.read_bytes()

    @abstractmethod
    def key(self, ws: Workspace, model_id: str, mode: Mode) -> dict[str, Any]:
        """Everything that determines the artifact's bytes (computed without building anything expensive)."""

    @abstractmethod
    def build(self, ws: Workspace, model_id: str, mode: Mode, path: Path) -> dict[str, Any]:
        """Write the artifact at ``path``; return facts for its cache manifest."""

    def keeper(self, ws: Workspace, model_id: str, mode: Mode) -> AbstractContextManager[Keeper]:
        """A context giving a function that builds ``mode`` with the layers it is given kept at higher precision.
        A context because it may hold state across calls (a calibration, an unpacked SavedModel)."""
        raise NotApplicable(f"the {self.id} backend cannot keep single layers of {mode.id} at higher precision",
                            "choose a mode whose backend can (qbench list: modes with a +budget variant)")

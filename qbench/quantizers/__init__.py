"""Quantization backends by id (a mode names its backend): converter (TFLiteConverter), aeq (ai-edge-quantizer),
budget (a lossy mode's layers kept wider until it meets the quality budget, through the other two).

Adding one is a module with a ``BACKEND`` (``base.Backend``) and an entry here; its modes go in ``qbench.modes``.
"""

from __future__ import annotations

import importlib

from qbench.errors import lookup
from qbench.quantizers.base import Backend

MODULES = {"converter": "qbench.quantizers.converter", "aeq": "qbench.quantizers.aeq",
           "budget": "qbench.quantizers.budget"}


def get(backend_id: str) -> Backend:
    """The backend (its module imported on first use: the converter's pulls in nothing heavy until it builds)."""
    module = lookup(MODULES, backend_id, "quantization backend")
    return importlib.import_module(module).BACKEND

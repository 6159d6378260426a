"""Quantization backends by id (a mode names its backend): converter (TFLiteConverter), aeq (ai-edge-quantizer), ort (ONNX Runtime's quantizer, .onnx files),
qat (quantization-aware training with tfmot); the
mixed-precision ``budget`` backend sits above them (``qbench.repair``) and registers there.

Importing a backend module costs nothing heavy: TensorFlow and ai-edge-quantizer are imported when one builds.
"""

from __future__ import annotations

from qbench.quantizers import aeq, converter, ort, qat  # noqa: F401  (they register themselves)
from qbench.quantizers.base import BACKENDS, Backend, BuildInputs

__all__ = ["BACKENDS", "Backend", "BuildInputs"]

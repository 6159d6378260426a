"""An Interpreter that keeps every intermediate tensor readable, for per-layer comparisons (``qbench.repair``).

LiteRT keeps intermediate tensors after ``invoke()`` when built with ``experimental_preserve_all_tensors`` (what
ai-edge-quantizer's ``Quantizer.validate`` and TensorFlow's QuantizationDebugger use too). It lives here because
nothing outside ``qbench/runtime`` touches LiteRT's APIs. Not a benchmark device: one sample at a time, no delegate.
"""

from __future__ import annotations

import numpy as np

from qbench.errors import QbenchError
from qbench.quantize import QuantParams, quantize
from qbench.runtime.interpreter import RESOLVERS
from qbench.tflite_file import TfliteModel


class TappedInterpreter:
    """One model in an Interpreter that keeps all tensors, fed one sample at a time."""

    def __init__(self, data: bytes, origin: str, kernels: str):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.file = TfliteModel(data, origin)
        try:
            self.interpreter = Interpreter(model_content=data, num_threads=1,
                                           experimental_op_resolver_type=OpResolverType[RESOLVERS[kernels]],
                                           experimental_preserve_all_tensors=True)
            self.input = self.interpreter.get_input_details()[0]
            if list(self.input["shape"][:1]) != [1]:
                self.interpreter.resize_tensor_input(self.input["index"], [1, *self.input["shape"][1:]])
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise QbenchError(f"{origin} cannot be loaded for a per-layer comparison: {str(exc).strip()}",
                              "rebuild it (`qbench build`) or explain another mode") from None
        self.input = self.interpreter.get_input_details()[0]
        scale, zero = self.input["quantization"]
        dtype = np.dtype(self.input["dtype"])
        self.input_q = None if dtype.kind == "f" else QuantParams(float(scale), int(zero), dtype.name)

    def run(self, sample: np.ndarray) -> None:
        x = sample[None].astype(np.float32)
        self.interpreter.set_tensor(self.input["index"], quantize(x, self.input_q) if self.input_q else x)
        self.interpreter.invoke()

    def value(self, index: int) -> np.ndarray:
        """A tensor in real units, flat (float32: enough for the energies, and 2x faster than float64 here)."""
        raw = self.interpreter.get_tensor(index)
        q = self.file.tensors[index].quantization
        if raw.dtype.kind == "f" or q is None or q.block_size:
            return raw.reshape(-1).astype(np.float32, copy=False)
        if q.scales.size > 1:  # per-channel activations are rare; broadcast along their axis
            shape = [1] * raw.ndim
            shape[q.axis] = -1
            scale, zero = q.scales.reshape(shape), q.zero_points.reshape(shape)
        else:
            scale, zero = q.scales[0], q.zero_points[0]
        return ((raw.astype(np.float32) - np.float32(zero)) * np.float32(scale)).reshape(-1)

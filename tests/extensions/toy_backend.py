"""A worked example of a new quantization backend: one module, one registration (``@BACKENDS.register``), and its
mode (``MODES.register``).

``toy-weight-float16`` stores every float32 weight tensor of the float32 .tflite as float16 and dequantizes it in
front of its op, the way TFLiteConverter's float16 mode stores weights -- but from any .tflite, with no TensorFlow.
A backend says what a mode starts from (``starts_from``: here the float32 artifact), whether it applies to a model
(``check``), what determines its bytes (``key``: everything, so a changed input never reuses a stale file), and how
to build it (``build``); each method receives the model's ``BuildInputs`` and nothing else.
"""

from __future__ import annotations

import hashlib
import inspect
import sys

import numpy as np

from qbench.errors import NotApplicable
from qbench.modes import MODES, REFERENCE_MODE, Contract, Mode, Storage
from qbench.quantizers.base import BACKENDS, Backend
from qbench.tflite_file import rewrite
from qbench.versions import installed

MODES.register(Mode("toy-weight-float16", "float16 weights behind DEQUANTIZE, from any .tflite (a worked example)",
                    "toy", "weight-float16", False, "float", Storage(16, per_channel=False),
                    Contract("float16")))


@BACKENDS.register
class ToyFloat16(Backend):
    id = "toy"
    description = "float16 weights from the float32 .tflite (a worked example)"

    def starts_from(self, mode) -> str:
        return REFERENCE_MODE

    def check(self, inputs, mode) -> None:
        model = inputs.float_model()
        if not any(model.weights(op)[0].dtype == "float32" for op in model.weighted_ops()):
            raise NotApplicable(f"{inputs.model_id} has no float32 weights to store as float16", "use another mode")

    def key(self, inputs, mode) -> dict:
        code = hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode()).hexdigest()
        return {"backend": self.id, "float32": inputs.float32().sha256, "mode": mode.id, "code": code,
                "litert": installed("ai-edge-litert")}

    def build(self, inputs, mode, path) -> dict:
        path.write_bytes(rewrite(inputs.float32().path.read_bytes(), _weights_to_float16))
        return {"model": inputs.model_id, "mode": mode.id}


def _weights_to_float16(m) -> None:
    """Put a DEQUANTIZE (float16 -> float32) in front of each weighted op's float32 weight tensor."""
    from ai_edge_litert import schema_py_generated as schema

    graph = m.subgraphs[0]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
    code.version = 1
    m.operatorCodes.append(code)
    dequantize = len(m.operatorCodes) - 1
    weighted = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.FULLY_CONNECTED,
                schema.BuiltinOperator.DEPTHWISE_CONV_2D}
    operators = []
    for op in graph.operators:
        builtin = max(m.operatorCodes[op.opcodeIndex].builtinCode, m.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)
        weight = graph.tensors[op.inputs[1]] if builtin in weighted and len(op.inputs) > 1 else None
        data = m.buffers[weight.buffer].data if weight is not None and weight.type == schema.TensorType.FLOAT32 else None
        if data is not None and len(data):
            half = schema.TensorT()
            half.name, half.type, half.shape = weight.name + b"_fp16" if isinstance(weight.name, bytes) else \
                weight.name + "_fp16", schema.TensorType.FLOAT16, list(weight.shape)
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float32).astype(np.float16).view(np.uint8)
            m.buffers.append(buffer)
            half.buffer = len(m.buffers) - 1
            graph.tensors.append(half)
            convert = schema.OperatorT()
            convert.opcodeIndex, convert.inputs, convert.outputs = dequantize, [len(graph.tensors) - 1], [op.inputs[1]]
            m.buffers[weight.buffer].data = None
            weight.buffer = 0
            operators.append(convert)
        operators.append(op)
    graph.operators = operators

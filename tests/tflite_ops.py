"""One-op .tflite models built at test time, to ask the real LiteRT runtime what a single op computes.

A model that is nothing but a QUANTIZE op with chosen scales and zero points isolates a kernel's arithmetic
from everything a converter would add. It is written with the flatbuffer object API that LiteRT ships
(``ai_edge_litert.schema_py_generated``), in memory and in well under a millisecond, so a property test can
build one per example: no TensorFlow, no files, nothing for two xdist workers to share.

QUANTIZE is both ops the issue names: float -> int is the affine quantizer, int -> int with another scale is
TFLite's REQUANTIZE path (``QuantizeMultiplier`` + ``MultiplyByQuantizedMultiplier``).
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from qbench import runtime
from qbench.quantize import QuantParams

TYPES = {"float32": schema.TensorType.FLOAT32, "uint8": schema.TensorType.UINT8,
         "int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16}


def _tensor(name: str, dtype: str, size: int, qp: QuantParams | None):
    tensor = schema.TensorT()
    tensor.name, tensor.type, tensor.shape, tensor.buffer = name, TYPES[dtype], [size], 0
    if qp is not None:
        params = schema.QuantizationParametersT()
        params.scale, params.zeroPoint = [float(qp.scale)], [int(qp.zero_point)]
        tensor.quantization = params
    return tensor


def quantize_model(size: int, out: QuantParams, inp: QuantParams | None = None) -> bytes:
    """A model ``output = QUANTIZE(input)`` over ``size`` elements: float32 input when ``inp`` is None
    (quantize), else an integer input with ``inp``'s parameters (requantize)."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors = [_tensor("input", inp.dtype if inp else "float32", size, inp), _tensor("output", out.dtype, size, out)]
    graph.inputs, graph.outputs, graph.operators = [0], [1], [op]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run(model: bytes, x: np.ndarray, device: str) -> np.ndarray:
    """Invoke ``model`` on ``x`` with the op resolver of one of qbench's devices (1 thread)."""
    interpreter = Interpreter(model_content=model, num_threads=1,
                              experimental_op_resolver_type=OpResolverType[runtime.get(device).resolver])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def write(path: Path, model: bytes) -> Path:
    path.write_bytes(model)
    return path

"""One-op .tflite models built at test time, to ask the real LiteRT runtime what a single op computes.

A model that is nothing but a QUANTIZE op with chosen scales and zero points isolates a kernel's arithmetic
from everything a converter would add. It is written with the flatbuffer object API that LiteRT ships
(``ai_edge_litert.schema_py_generated``), in memory and in well under a millisecond, so a property test can
build one per example: no TensorFlow, no files, nothing for two xdist workers to share.

QUANTIZE is both ops the issue names: float -> int is the affine quantizer, int -> int with another scale is
TFLite's REQUANTIZE path (``QuantizeMultiplier`` + ``MultiplyByQuantizedMultiplier``).

It also holds what the *optimized* built-in kernels compute, as measured on them (tests/fast/test_quantize_tflite.py
pins these oracles against the runtime): they agree with the reference kernels, and with qbench.quantize, except
within one step near ties, and these functions say exactly where.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import qbench.quantize as qz
from qbench import runtime
from qbench.runtime.interpreter import RESOLVERS
from qbench.quantize import QuantParams, multiply_by_quantized_multiplier, quantize_multiplier, round_half_away

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
                              experimental_op_resolver_type=OpResolverType[RESOLVERS[runtime.get(device).kernels]])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def requantize(inp: QuantParams, out: QuantParams, x: np.ndarray) -> np.ndarray:
    """TFLite's Requantize computed with qbench.quantize: ``QuantizeMultiplier(S_in / S_out)`` (in float64),
    then the fixed-point rescale of ``x - Z_in``, plus ``Z_out``, clamped."""
    multiplier, shift = quantize_multiplier(inp.scale / out.scale)
    y = multiply_by_quantized_multiplier(x.astype(np.int64) - inp.zero_point, multiplier, shift) + out.zero_point
    return np.clip(y, out.qmin, out.qmax).astype(out.dtype)


def optimized_quantize(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """The built-in (optimized) QUANTIZE: whole blocks of 8 values are multiplied by the float32 reciprocal of
    the scale and rounded half to even (NEON's vector conversion; x86 runs the same code through NEON_2_SSE),
    the last ``len(x) % 8`` values are divided in float64 and rounded half away from zero."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    vector = len(x) - len(x) % 8
    head = np.round((x[:vector] * (np.float32(1.0) / np.float32(qp.scale))).astype(np.float64))
    tail = round_half_away(x[vector:].astype(np.float64) / qp.scale)
    return np.clip(np.concatenate([head, tail]) + qp.zero_point, qp.qmin, qp.qmax).astype(qp.dtype)


def round_half_up_requantize(inp: QuantParams, out: QuantParams, x: np.ndarray) -> np.ndarray:
    """NEON's requantization (vqrdmulh + vrshl; x86 runs it through NEON_2_SSE): the rounding shift breaks
    ties upward instead of away from zero."""
    multiplier, shift = quantize_multiplier(inp.scale / out.scale)
    left, right = max(shift, 0), max(-shift, 0)
    a = qz._wrap_int32((x.astype(np.int64) - inp.zero_point) * (1 << left))
    high = (a * multiplier + (1 << 30)) >> 31
    y = ((high + ((1 << right) >> 1)) >> right) + out.zero_point
    return np.clip(y, out.qmin, out.qmax).astype(out.dtype)


def optimized_requantize(inp: QuantParams, out: QuantParams, x: np.ndarray) -> np.ndarray:
    """The built-in (optimized) requantization: from 8-bit inputs, whole blocks of 16 values take the NEON path
    and the last ``len(x) % 16`` the reference arithmetic; int16 inputs have no optimized path."""
    vector = 0 if inp.dtype == "int16" else len(x) - len(x) % 16
    return np.concatenate([round_half_up_requantize(inp, out, x[:vector]), requantize(inp, out, x[vector:])])


def write(path: Path, model: bytes) -> Path:
    path.write_bytes(model)
    return path

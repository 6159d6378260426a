"""Hand-built .tflite files for runtime tests: a few bytes each, no TensorFlow, exactly the structure wanted.

Written with the TFLite schema LiteRT ships (``ai_edge_litert.schema_py_generated``) and ``flatbuffers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
from ai_edge_litert import schema_py_generated as s


@dataclass
class T:
    name: str
    dtype: int = s.TensorType.FLOAT32
    shape: tuple[int, ...] = (1, 4)
    scale: float | list[float] | None = None  # a list: one scale per channel along axis 0
    zero_point: int = 0
    data: bytes | None = None  # a constant's bytes (weights)


@dataclass
class Op:
    code: int | str  # a BuiltinOperator, or a custom op's name
    inputs: list[int]
    outputs: list[int]


@dataclass
class Graph:
    tensors: list[T]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    signature_outputs: list[tuple[str, int]] | None = None  # (name, tensor) in signature order
    extra: dict = field(default_factory=dict)


def _tensor(t: T, buffers: list) -> s.TensorT:
    out = s.TensorT()
    out.name, out.type, out.shape, out.buffer = t.name.encode(), t.dtype, list(t.shape), 0
    out.shapeSignature = [-1, *t.shape[1:]] if t.data is None else list(t.shape)
    if t.data is not None:
        buffer = s.BufferT()
        buffer.data = list(t.data)
        buffers.append(buffer)
        out.buffer = len(buffers) - 1
    if t.scale is not None:
        q = s.QuantizationParametersT()
        scales = t.scale if isinstance(t.scale, list) else [t.scale]
        q.scale, q.zeroPoint, q.quantizedDimension = scales, [t.zero_point] * len(scales), 0
        out.quantization = q
    return out


_OPTIONS = {s.BuiltinOperator.FULLY_CONNECTED: (s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT),
            s.BuiltinOperator.ADD: (s.BuiltinOptions.AddOptions, s.AddOptionsT),
            s.BuiltinOperator.MUL: (s.BuiltinOptions.MulOptions, s.MulOptionsT),
            s.BuiltinOperator.SUB: (s.BuiltinOptions.SubOptions, s.SubOptionsT)}


def build(graph: Graph) -> bytes:
    codes: list[int | str] = list(dict.fromkeys(op.code for op in graph.ops))
    model = s.ModelT()
    model.version, model.buffers = 3, [s.BufferT()]
    model.operatorCodes = []
    for code in codes:
        c = s.OperatorCodeT()
        if isinstance(code, str):
            c.builtinCode, c.deprecatedBuiltinCode, c.customCode = s.BuiltinOperator.CUSTOM, 32, code.encode()
        else:
            c.builtinCode, c.deprecatedBuiltinCode = code, min(code, 127)
        c.version = 1
        model.operatorCodes.append(c)
    sub = s.SubGraphT()
    sub.tensors = [_tensor(t, model.buffers) for t in graph.tensors]
    sub.inputs, sub.outputs, sub.operators = graph.inputs, graph.outputs, []
    for op in graph.ops:
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = codes.index(op.code), op.inputs, op.outputs
        if op.code in _OPTIONS:
            o.builtinOptionsType, options = _OPTIONS[op.code]
            o.builtinOptions = options()
        sub.operators.append(o)
    model.subgraphs = [sub]
    if graph.signature_outputs is not None:
        sig = s.SignatureDefT()
        sig.signatureKey, sig.subgraphIndex = b"serving_default", 0
        sig.inputs = [_tensor_map(graph.tensors[i].name, i) for i in graph.inputs]
        sig.outputs = [_tensor_map(name, i) for name, i in graph.signature_outputs]
        model.signatureDefs = [sig]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tensor_map(name: str, index: int) -> s.TensorMapT:
    m = s.TensorMapT()
    m.name, m.tensorIndex = name.encode(), index
    return m


def two_outputs() -> bytes:
    """uint8 x -> (x + x, x - x... no: x * x) with distinct output quantization; the subgraph lists the MUL
    result first, the signature the ADD result first, so a runtime that follows the signature reorders."""
    u8 = s.TensorType.UINT8
    return build(Graph(
        tensors=[T("x", u8, (1, 4), 0.05, 10), T("sum", u8, (1, 4), 0.1, 20), T("product", u8, (1, 4), 0.02, 3)],
        ops=[Op(s.BuiltinOperator.ADD, [0, 0], [1]), Op(s.BuiltinOperator.MUL, [0, 0], [2])],
        inputs=[0], outputs=[2, 1], signature_outputs=[("a_sum", 1), ("b_product", 2)],
    ))


def unknown_custom_op() -> bytes:
    """A well-formed model whose one op no runtime has: loads as a flatbuffer, fails to compile."""
    return build(Graph(tensors=[T("x"), T("y")], ops=[Op("QbenchNoSuchOp", [0], [1])], inputs=[0], outputs=[1]))


def dense(units: int, per_tensor: bool = True, scales: list[float] | None = None) -> bytes:
    """float x (1, 4) -> FULLY_CONNECTED with int8 weights (units, 4), per-tensor (one scale) or per-channel
    (``scales``, or 0.01 * (channel + 1))."""
    i8 = s.TensorType.INT8
    scale = 0.01 if per_tensor else scales or [0.01 * (u + 1) for u in range(units)]
    return build(Graph(
        tensors=[T("x"), T("w", i8, (units, 4), scale, data=bytes(range(1, 4 * units + 1))), T("y", shape=(1, units))],
        ops=[Op(s.BuiltinOperator.FULLY_CONNECTED, [0, 1, -1], [2])], inputs=[0], outputs=[2],
    ))


def dense_float(inputs: int = 784, units: int = 4, seed: int = 0) -> bytes:
    """float x (batch, inputs) -> FULLY_CONNECTED with seeded float32 weights (units, inputs) and bias -> (batch, units):
    a classifier-shaped model a few kilobytes large, with real float32 weights a backend can quantize."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1 / np.sqrt(inputs), (units, inputs)).astype(np.float32)
    b = rng.normal(0, 0.1, units).astype(np.float32)
    return build(Graph(
        tensors=[T("x", shape=(1, inputs)), T("w", shape=(units, inputs), data=w.tobytes()),
                 T("b", shape=(units,), data=b.tobytes()), T("y", shape=(1, units))],
        ops=[Op(s.BuiltinOperator.FULLY_CONNECTED, [0, 1, 2], [3])], inputs=[0], outputs=[3],
        signature_outputs=[("y", 3)],
    ))


def zero_channel_dense(units: int = 4) -> bytes:
    """float x (1, 4) -> FULLY_CONNECTED with int8 per-channel weights whose channel 1 is all zeros -> (1, units)."""
    weights = bytearray(range(1, 4 * units + 1))
    weights[4:8] = bytes(4)
    i8 = s.TensorType.INT8
    return build(Graph(
        tensors=[T("x"), T("w", i8, (units, 4), [0.01 * (u + 1) for u in range(units)], data=bytes(weights)),
                 T("y", shape=(1, units))],
        ops=[Op(s.BuiltinOperator.FULLY_CONNECTED, [0, 1, -1], [2])], inputs=[0], outputs=[2]))

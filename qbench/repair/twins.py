"""Give every op of a quantized model a float32 twin that reads the quantized model's own inputs.

The error a layer *adds* is its output against what the float32 layer computes from the same input; comparing with
the float32 *model* instead mixes in every earlier layer's error (and a float op that merely passes on its input's
noise would look guilty). TensorFlow's QuantizationDebugger measures it with NumericVerify ops it compiles into a
debug model; this does the same for any pair of .tflite files, converter or ai-edge-quantizer made, with the
flatbuffer object API LiteRT ships: for each op whose output the float32 model also computes (matched by tensor
name), the float32 model's op (same options, float32 weights copied over) is inserted right after it, reading the
quantized model's activations (through a DEQUANTIZE where they are integers) and writing ``<name>#twin``.

The twins only read: every original tensor keeps its index and its value, so one run of the instrumented model gives
both the quantized model's tensors and their float32 twins. Ops with intermediates (LSTM) or custom ops get no twin.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from qbench.tflite_file import TfliteModel

TWIN_SUFFIX = "#twin"
DEQUANTIZE_VERSION = 4  # int8, uint8, int16 and float16 inputs


@dataclass(frozen=True)
class Instrumented:
    data: bytes  # the quantized model plus twins
    twins: dict[int, int]  # quantized op output tensor index -> its twin's tensor index


def counterparts(quantized: TfliteModel, float32: TfliteModel) -> dict[int, int]:
    """Quantized tensor index -> the float32 model's tensor computing the same thing, for the float activations of
    the float model: matched by name and size. Where a mode renamed an output to put a QUANTIZE / DEQUANTIZE of its
    own behind it (the converter's uint8 output: ``FULLY_CONNECTED -> x:01 -> QUANTIZE -> x:0``), the layer's output
    is matched, not the conversion's."""
    by_name = {t.name: t for t in float32.tensors if not t.is_constant and t.dtype == "float32"}
    pairs = {}
    for t in quantized.tensors:
        if not t.is_constant and (f := by_name.get(t.name)) is not None and f.elements == t.elements:
            pairs[t.index] = f.index
    consumers: dict[int, list] = {}
    for op in quantized.ops:
        for i in op.inputs:
            consumers.setdefault(i, []).append(op)
    for op in quantized.ops:
        if op.opcode in ("QUANTIZE", "DEQUANTIZE") and op.outputs[0] in pairs and op.inputs[0] not in pairs:
            source = op.inputs[0]
            if (quantized.producer(source) is not None and len(consumers.get(source, [])) == 1
                    and not quantized.tensors[source].is_constant):
                pairs[source] = pairs.pop(op.outputs[0])
    return pairs


def instrument(quantized: bytes, float32: bytes, pairs: dict[int, int]) -> Instrumented:
    """``pairs``: ``counterparts`` of the two models."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    mq = schema.ModelT.InitFromPackedBuf(bytearray(quantized), 0)
    mf = schema.ModelT.InitFromPackedBuf(bytearray(float32), 0)
    gq, gf = mq.subgraphs[0], mf.subgraphs[0]
    codes = mq.operatorCodes = list(mq.operatorCodes or [])
    mq.buffers = list(mq.buffers or [])
    gq.tensors = list(gq.tensors or [])

    def name(t) -> str:
        return t.name.decode() if isinstance(t.name, bytes) else (t.name or "")

    def constant(model, t) -> bool:
        b = model.buffers[t.buffer] if 0 < t.buffer < len(model.buffers) else None
        return b is not None and b.data is not None and len(b.data) > 0

    def builtin(code) -> int:
        return max(code.builtinCode, code.deprecatedBuiltinCode)

    def code_index(builtin_code: int, version: int, custom=None) -> int:
        for i, c in enumerate(codes):
            if builtin(c) == builtin_code and c.version == version and c.customCode == custom:
                return i
        c = schema.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode = builtin_code, min(builtin_code, 127)
        c.version, c.customCode = version, custom
        codes.append(c)
        return len(codes) - 1

    def add_tensor(t) -> int:
        gq.tensors.append(t)
        return len(gq.tensors) - 1

    float_producer = {o: op for op in gf.operators or [] for o in op.outputs}
    q_by_name = {name(t): i for i, t in enumerate(gq.tensors)}
    float_to_quantized = {f: q for q, f in pairs.items()}

    def quantized_of(fi: int) -> int | None:
        """The quantized model's tensor for a float tensor: its counterpart, or (shapes, indices) the same name."""
        return float_to_quantized.get(fi, q_by_name.get(name(gf.tensors[fi])))
    copied: dict[int, int] = {}  # float constant tensor -> its copy in the quantized model
    dequantized: dict[int, int] = {}  # quantized activation -> float32 tensor (itself when already float)
    pending: list = []  # DEQUANTIZE ops to insert before the next twin

    def has_scale(t) -> bool:
        q = t.quantization
        return q is not None and q.scale is not None and len(q.scale) > 0

    def readable(fi: int) -> bool:
        """Whether the twin can get this input: a constant of the float model, or a tensor the quantized model has
        with the same name and type (an int32 shape, a float activation) or with quantization to undo."""
        t = gf.tensors[fi]
        if constant(mf, t):
            return True
        qi = quantized_of(fi)
        if qi is None:
            return False
        q = gq.tensors[qi]
        if list(q.shape if q.shape is not None else []) != list(t.shape if t.shape is not None else []):
            return False  # the same name on another tensor (converters number duplicate names per model)
        return q.type == t.type or (not constant(mq, q) and has_scale(q) and t.type == schema.TensorType.FLOAT32)

    def float_input(fi: int) -> int:
        t = gf.tensors[fi]
        if constant(mf, t):
            if fi not in copied:
                buffer = schema.BufferT()
                buffer.data = np.asarray(mf.buffers[t.buffer].data, np.uint8).copy()
                mq.buffers.append(buffer)
                twin = copy.copy(t)
                twin.buffer, twin.name = len(mq.buffers) - 1, name(t) + TWIN_SUFFIX
                copied[fi] = add_tensor(twin)
            return copied[fi]
        qi = quantized_of(fi)
        q = gq.tensors[qi]
        if q.type == t.type:
            return qi
        if qi not in dequantized:
            out = copy.copy(t)
            out.buffer, out.quantization, out.name = 0, None, name(q) + "#dequantized"
            dequantized[qi] = add_tensor(out)
            op = schema.OperatorT()
            op.opcodeIndex = code_index(schema.BuiltinOperator.DEQUANTIZE, DEQUANTIZE_VERSION)
            op.inputs, op.outputs = [qi], [dequantized[qi]]
            pending.append(op)
        return dequantized[qi]

    operators, twins = [], {}
    for op in gq.operators or []:
        operators.append(op)
        if all(i < 0 or constant(mq, gq.tensors[i]) for i in op.inputs):
            continue  # a weight's DEQUANTIZE: decoding a constant, not a layer
        outputs = [o for o in op.outputs if o >= 0]
        fo = pairs.get(outputs[0]) if outputs else None
        source = float_producer.get(fo) if fo is not None else None
        if source is None or source.intermediates or builtin(mf.operatorCodes[source.opcodeIndex]) == \
                schema.BuiltinOperator.CUSTOM or len(source.outputs) != len(outputs) \
                or not all(fi < 0 or readable(fi) for fi in source.inputs):
            continue
        pending.clear()
        inputs = [-1 if fi < 0 else float_input(fi) for fi in source.inputs]
        twin = copy.copy(source)
        fcode = mf.operatorCodes[source.opcodeIndex]
        twin.opcodeIndex = code_index(builtin(fcode), fcode.version)
        twin.inputs = inputs
        twin.outputs = []
        for o, fo in zip(outputs, source.outputs):
            out = copy.copy(gf.tensors[fo])
            out.buffer, out.name = 0, name(gq.tensors[o]) + TWIN_SUFFIX
            twin.outputs.append(add_tensor(out))
            twins[o] = twin.outputs[-1]
        operators += [*pending, twin]
    gq.operators = operators
    builder = flatbuffers.Builder(len(quantized) + len(float32) + 4096)
    builder.Finish(mq.Pack(builder), file_identifier=b"TFL3")
    return Instrumented(bytes(builder.Output()), twins)


"""Read what a .tflite file *contains* without running it: operators, tensors, dtypes, constants, quantization.

Size prediction, mode contracts ("an int8 artifact really holds int8 weights") and per-layer explanations need
the model's structure, which neither the Interpreter's public API nor CompiledModel exposes (the Interpreter's
op list is private, and it drops int4 and blockwise details). The flatbuffer schema ships with ai_edge_litert
(``schema_py_generated``), so this is plain Python: no TensorFlow, no interpreter, and it runs on a Pi too.

Only the first subgraph is read (the one ``invoke()`` runs); op codes are normalised the way the runtime does it
(``max(deprecated_builtin_code, builtin_code)``), so 2019-era files that only fill the deprecated field read
the same as new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from qbench.errors import QbenchError

#: schema TensorType -> numpy-style name (int4 and friends have no numpy dtype: named, stored packed)
TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource", 14: "variant",
    15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16", 19: "int2", 20: "uint4",
}
#: bits per element of each stored type (for packed sub-byte types the file holds two int4 per byte)
TYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "int32": 32, "uint32": 32, "uint8": 8, "int8": 8,
             "int64": 64, "uint64": 64, "int16": 16, "uint16": 16, "float64": 64, "bool": 8, "int4": 4,
             "uint4": 4, "int2": 2}
#: op -> (weight input position, bias input position) for the ops that carry learned weights
WEIGHTED_OPS = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
                "TRANSPOSE_CONV": (1, 3), "CONV_3D": (1, 2), "BATCH_MATMUL": (1, None), "EMBEDDING_LOOKUP": (1, None)}


@dataclass(frozen=True)
class Quantization:
    """A tensor's affine quantization: per-tensor, per-channel along ``axis``, or blockwise."""

    scales: np.ndarray
    zero_points: np.ndarray
    axis: int
    block_size: int = 0  # > 0: blockwise (scales live in another tensor)

    @property
    def kind(self) -> str:
        if self.block_size:
            return "blockwise"
        return "per-channel" if self.scales.size > 1 else "per-tensor"


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]  # -1 where the dimension is dynamic (batch)
    dtype: str
    constant_bytes: int  # bytes of constant data in the file (0 for activations)
    quantization: Quantization | None

    @property
    def is_constant(self) -> bool:
        return self.constant_bytes > 0

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass(frozen=True)
class Operator:
    index: int
    opcode: str  # builtin op name (CONV_2D) or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # tensor indices, -1 for an absent optional input
    outputs: tuple[int, ...]


class TfliteModel:
    """The first subgraph of a .tflite flatbuffer; see the module docstring."""

    def __init__(self, data: bytes, origin: str):
        from ai_edge_litert import schema_py_generated as schema

        self.origin = origin
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise QbenchError(f"{origin} is not a TFLite flatbuffer (no TFL3 identifier)",
                              "give a complete .tflite file (the converter's output)")
        try:
            model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
            graph = model.subgraphs[0]
        except Exception as exc:  # flatbuffers raises whatever a bad offset leads to
            raise QbenchError(f"{origin} is a damaged TFLite flatbuffer ({exc.__class__.__name__}: {exc})",
                              "replace it with a complete copy of the .tflite file") from None
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.version = model.version
        self.size = len(data)
        self._model, self._schema = model, schema
        buffers = model.buffers or []

        def buffer_bytes(i: int) -> int:
            if not 0 < i < len(buffers):
                return 0
            b = buffers[i]
            return int(b.size) if b.size else (0 if b.data is None else len(b.data))

        codes = []
        for code in model.operatorCodes or []:
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # as the runtime's GetBuiltinCode
            name = names.get(builtin, f"BUILTIN_{builtin}")
            codes.append(f"CUSTOM:{_text(code.customCode)}" if name == "CUSTOM" else name)
        self.tensors = [
            Tensor(i, _text(t.name), _ints(t.shape), _ints(t.shapeSignature) or _ints(t.shape),
                   TENSOR_TYPES.get(t.type, f"type{t.type}"), buffer_bytes(t.buffer), self._quantization(t.quantization))
            for i, t in enumerate(graph.tensors or [])
        ]
        self.ops = [Operator(i, codes[op.opcodeIndex], _ints(op.inputs), _ints(op.outputs))
                    for i, op in enumerate(graph.operators or [])]
        self.inputs = [self.tensors[i] for i in _ints(graph.inputs)]
        self.outputs = [self.tensors[i] for i in _ints(graph.outputs)]
        self.signatures = [_text(s.signatureKey) for s in model.signatureDefs or []]
        self._buffers = buffers
        self._buffer_of = [t.buffer for t in graph.tensors or []]

    def _quantization(self, q) -> Quantization | None:
        if q is None:
            return None
        block = q.details if q.detailsType == self._schema_details("BlockwiseQuantization") else None
        if block is not None:
            return Quantization(np.array([block.scales]), np.array([block.zeroPoints]), q.quantizedDimension,
                                int(block.blockSize))
        if q.scale is None or len(q.scale) == 0:
            return None
        zero = np.zeros(len(q.scale), np.int64) if q.zeroPoint is None else np.asarray(q.zeroPoint, np.int64)
        return Quantization(np.asarray(q.scale, np.float64), zero, int(q.quantizedDimension))

    def _schema_details(self, name: str) -> int:
        from ai_edge_litert import schema_py_generated as schema

        return getattr(schema.QuantizationDetails, name)

    @classmethod
    def read(cls, path: Path | str) -> TfliteModel:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise QbenchError(f"cannot read {path}: {exc.strerror or exc}", "check the path") from None
        return cls(data, str(path))

    def constant(self, tensor: Tensor) -> np.ndarray | None:
        """A constant tensor's values (numpy dtypes only; packed sub-byte types come back as raw uint8)."""
        index = self._buffer_of[tensor.index]
        if not tensor.is_constant or not 0 < index < len(self._buffers) or self._buffers[index].data is None:
            return None
        raw = np.asarray(self._buffers[index].data, np.uint8)
        if TYPE_BITS.get(tensor.dtype, 8) < 8 or tensor.dtype not in np.sctypeDict:
            return raw
        return raw.view(np.dtype(tensor.dtype)).reshape(tensor.shape)

    def producer(self, tensor_index: int) -> Operator | None:
        return self._producers.get(tensor_index)

    @cached_property
    def _producers(self) -> dict[int, Operator]:
        return {o: op for op in self.ops for o in op.outputs}

    def weights(self, op: Operator) -> tuple[Tensor | None, Tensor | None]:
        """(weight, bias) tensors of a weighted op, following a DEQUANTIZE in front of a float16/int8 constant."""
        if op.opcode not in WEIGHTED_OPS:
            return None, None
        found = []
        for position in WEIGHTED_OPS[op.opcode]:
            if position is None or position >= len(op.inputs) or op.inputs[position] < 0:
                found.append(None)
                continue
            tensor = self.tensors[op.inputs[position]]
            source = self.producer(tensor.index)
            if source is not None and source.opcode == "DEQUANTIZE" and source.inputs[0] >= 0:
                tensor = self.tensors[source.inputs[0]]  # float16 mode stores weights as float16 + DEQUANTIZE
            found.append(tensor)
        return found[0], found[1]

    def weighted_ops(self) -> list[Operator]:
        """The ops with a constant weight tensor, in execution order."""
        return [op for op in self.ops if (w := self.weights(op)[0]) is not None and w.is_constant]


def _ints(values) -> tuple[int, ...]:
    return () if values is None else tuple(int(v) for v in values)


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def rewrite(data: bytes, edit) -> bytes:
    """The .tflite ``data`` with ``edit(model)`` applied to its flatbuffer object tree (``schema.ModelT``), repacked.

    For the few places that must change a model file rather than read it (normalising 2019-era op codes before
    ai-edge-quantizer sees them; tests that damage one weight tensor on purpose)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    edit(model)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())

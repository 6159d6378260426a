"""What an ``.onnx`` file contains, for the contract (``qbench.contracts``): its weighted ops as the ``ort-*`` modes
leave them, read with ``onnx`` (no runtime).

A weighted op of the float graph (``Conv``, ``ConvTranspose``, ``MatMul`` / ``Gemm`` with a constant operand) is
found in each form ONNX Runtime's quantizer writes it:

- QDQ: the op itself, its weight a ``DequantizeLinear`` of an int8 initializer, its activation input a
  ``DequantizeLinear`` of a ``QuantizeLinear`` (the activation dtype is that pair's zero-point type);
- QOperator: ``QLinearConv`` / ``QLinearMatMul``, weight and scales as inputs, output zero point giving the
  activation dtype;
- dynamic: ``ConvInteger`` / ``MatMulInteger`` on an int8 weight initializer; their activations are quantized at run
  time by ``DynamicQuantizeLinear`` and stored float32 between ops, so they count as float32.

Each is reported under the TFLite op name the contract's ``ops`` use (``Conv`` with groups is DEPTHWISE_CONV_2D,
``MatMul`` / ``Gemm`` FULLY_CONNECTED), so one ``Contract`` says the same of a .tflite and of an .onnx.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SKIPPED = frozenset({"Transpose", "Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten"})


@dataclass(frozen=True)
class WeightedNode:
    name: str  # the node's output tensor
    op_type: str
    opcode: str  # the TFLite op kind it stands for
    weight_dtype: str
    granularity: str | None  # "per-channel" | "per-tensor" | None (float weights)
    channels: int  # output channels (the weight's)
    elements: int
    activations: str


def _dtype(elem_type: int) -> str:
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name


class OnnxGraph:
    def __init__(self, model):
        import onnx

        self.model = model
        graph = model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        for node in graph.node:  # Constant nodes are initializers by another name
            if node.op_type == "Constant" and node.attribute and node.attribute[0].type == onnx.AttributeProto.TENSOR:
                self.initializers[node.output[0]] = node.attribute[0].t
        self.producer = {out: node for node in graph.node for out in node.output}
        self.nodes = list(graph.node)
        self.io = (self._io_dtype(graph.input), self._io_dtype(graph.output))

    @classmethod
    def read(cls, path: Path | str) -> OnnxGraph:
        import onnx

        return cls(onnx.load(str(path)))

    @staticmethod
    def _io_dtype(values) -> str:
        return _dtype(values[0].type.tensor_type.elem_type) if values else "none"

    def _source(self, name: str) -> str:
        """Through layout ops to what really feeds ``name``."""
        seen = 0
        while name not in self.initializers and (node := self.producer.get(name)) is not None \
                and node.op_type in SKIPPED and seen < 8:
            name, seen = node.input[0], seen + 1
        return name

    def _constant(self, name: str):
        return self.initializers.get(self._source(name))

    def _numel(self, name: str) -> int:
        t = self._constant(name)
        n = 1
        for d in (t.dims if t is not None else ()):
            n *= d
        return n

    def _qdq_weight(self, name: str):
        """(int weight initializer, its scale's name) when ``name`` is a DequantizeLinear of a constant."""
        node = self.producer.get(self._source(name))
        if node is not None and node.op_type == "DequantizeLinear" and self._constant(node.input[0]) is not None:
            return self._constant(node.input[0]), node.input[1]
        return None, None

    def _activation(self, name: str) -> str:
        """The dtype an activation input is quantized to (QDQ: DequantizeLinear of a QuantizeLinear), or float32."""
        node = self.producer.get(self._source(name))
        if node is not None and node.op_type == "DequantizeLinear" and self._constant(node.input[0]) is None:
            zero = self._constant(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            return _dtype(zero.data_type) if zero is not None else "uint8"  # ONNX: no zero point means uint8
        return "float32"

    def weighted(self) -> list[WeightedNode]:
        found = []
        for node in self.nodes:
            kind = node.op_type
            if kind in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
                weight, scale = self._qdq_weight(node.input[1])
                if weight is None:
                    weight = self._constant(node.input[1])
                    if weight is None:
                        continue  # two activations (attention): no weights
                    dtype, granularity = _dtype(weight.data_type), None
                else:
                    dtype = _dtype(weight.data_type)
                    granularity = "per-channel" if self._numel(scale) > 1 else "per-tensor"
                activations = self._activation(node.input[0])
            elif kind in ("QLinearConv", "QLinearMatMul"):
                weight = self._constant(node.input[3])
                if weight is None:
                    continue
                dtype = _dtype(weight.data_type)
                granularity = "per-channel" if self._numel(node.input[4]) > 1 else "per-tensor"
                zero = self._constant(node.input[7])
                activations = _dtype(zero.data_type) if zero is not None else "uint8"
            elif kind in ("ConvInteger", "MatMulInteger"):
                weight = self._constant(node.input[1])
                if weight is None:
                    continue
                dtype = _dtype(weight.data_type)
                zero = node.input[3] if len(node.input) > 3 and node.input[3] else None
                granularity = "per-channel" if zero and self._numel(zero) > 1 else "per-tensor"
                activations = "float32"  # quantized per invoke, stored float between ops
            else:
                continue
            dims = list(weight.dims)
            conv = "Conv" in kind
            channels = dims[0] if conv and dims else (dims[-1] if dims else 1)
            elements = 1
            for d in dims:
                elements *= d
            found.append(WeightedNode(node.output[0], kind, _opcode(node, kind), dtype, granularity,
                                      int(channels), elements, activations))
        return found


def _opcode(node, kind: str) -> str:
    if "ConvTranspose" in kind:
        return "TRANSPOSE_CONV"
    if "Conv" in kind:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        return "DEPTHWISE_CONV_2D" if group > 1 else "CONV_2D"
    return "FULLY_CONNECTED"

"""Small float32 multi-layer perceptrons written straight into a .tflite, with data they classify with a margin.

For the explain and +budget tests: a model where one layer is made hard to quantize on purpose, built in
milliseconds without TensorFlow (the flatbuffer object API LiteRT ships), quantized by ai-edge-quantizer like any
ready .tflite. The labels are the float32 model's own top-1 on samples where it wins by a wide margin, so the float
model scores 100 % and any accuracy a mode loses is the quantization's doing.

``outlier_mlp``: 16 -> 32 (ReLU) -> 4 (ReLU) -> 10. Unit 5 of the first layer is dead (zero weights, negative bias:
ReLU always gives 0), and the second layer's channel 1 reads it through one weight of 1e4. In float32 that weight
multiplies zero and changes nothing; per-channel int4 or int8 quantization gives channel 1 a scale of 1e4 / 7 (or
/ 127), which rounds its other 31 weights to zero: one of four hidden features is lost. Only keeping that layer
float repairs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

SCOPE = "net"
OUTLIER = 1e4


def layer_name(i: int) -> str:
    return f"{SCOPE}/dense_{i}/MatMul"


@dataclass(frozen=True)
class Dense:
    weights: np.ndarray  # (out, in), as FULLY_CONNECTED stores them
    bias: np.ndarray
    relu: bool


def forward(layers: list[Dense], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = x @ layer.weights.T + layer.bias
        x = np.maximum(x, 0.0) if layer.relu else x
    return x


def to_tflite(layers: list[Dense], inputs: int) -> bytes:
    tensors, buffers, ops = [], [schema.BufferT()], []

    def tensor(name: str, shape: list[int], data: np.ndarray | None = None, batch: bool = False) -> int:
        t = schema.TensorT()
        t.name, t.type, t.shape = name, schema.TensorType.FLOAT32, shape
        t.shapeSignature = [-1, *shape[1:]] if batch else shape
        if data is not None:
            b = schema.BufferT()
            b.data = np.ascontiguousarray(data, np.float32).view(np.uint8).reshape(-1)
            buffers.append(b)
            t.buffer = len(buffers) - 1
        else:
            t.buffer = 0
        tensors.append(t)
        return len(tensors) - 1

    current = tensor("input", [1, inputs], batch=True)
    for i, layer in enumerate(layers):
        w = tensor(f"{SCOPE}/dense_{i}/kernel", list(layer.weights.shape), layer.weights)
        b = tensor(f"{SCOPE}/dense_{i}/bias", list(layer.bias.shape), layer.bias)
        out = tensor(layer_name(i), [1, layer.weights.shape[0]], batch=True)
        options = schema.FullyConnectedOptionsT()
        options.fusedActivationFunction = (schema.ActivationFunctionType.RELU if layer.relu
                                           else schema.ActivationFunctionType.NONE)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [current, w, b], [out]
        op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.FullyConnectedOptions, options
        ops.append(op)
        current = out
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.inputs, graph.outputs = tensors, ops, [0], [current]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], buffers
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def clean_mlp(seed: int = 0) -> list[Dense]:
    rng = np.random.default_rng(seed)

    def dense(n_out: int, n_in: int, relu: bool, bias: float) -> Dense:
        return Dense(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)).astype(np.float32),
                     np.full(n_out, bias, np.float32), relu)

    return _centred([dense(32, 16, True, 0.1), dense(4, 32, True, 1.0), dense(10, 4, False, 0.0)])


def outlier_mlp(seed: int = 0) -> list[Dense]:
    first, second, third = clean_mlp(seed)
    first.weights[5] = 0.0  # a dead unit: ReLU(0 * x - 1) = 0 for every input
    first.bias[5] = -1.0
    second.weights[1, 5] = OUTLIER  # the extreme outlier: multiplies that dead unit's zero in float32
    return _centred([first, second, third])


def _centred(layers: list[Dense]) -> list[Dense]:
    """The last layer's bias set so that every class's mean logit is the same: random weights would otherwise let
    one class win almost everywhere."""
    x = np.random.default_rng(99).normal(0, 1, (4000, layers[0].weights.shape[1])).astype(np.float32)
    hidden = forward(layers[:-1], x)
    last = layers[-1]
    return [*layers[:-1], Dense(last.weights, -(hidden @ last.weights.T).mean(axis=0).astype(np.float32), False)]


def write_data(layers: list[Dense], path: Path, n: int = 8000, keep: float = 0.25, seed: int = 1) -> Path:
    """An npz with x_train/y_train/x_test/y_test: inputs on which the float model's top-1 wins by a wide margin
    (per class, the top ``keep`` fraction of its samples' margins), labelled with that top-1, shuffled."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, layers[0].weights.shape[1])).astype(np.float32)
    logits = forward(layers, x)
    top2 = np.sort(logits, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    label = logits.argmax(axis=1)
    chosen = np.concatenate([ids[np.argsort(margin[ids])[::-1][: int(len(ids) * keep)]]
                             for c in range(logits.shape[1]) if len(ids := np.flatnonzero(label == c))])
    chosen = rng.permutation(chosen)
    x, y = x[chosen], label[chosen].astype(np.int64)
    np.savez(path, x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    return path

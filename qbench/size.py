"""What a quantization mode should do to a model's size, predicted from the float32 model itself.

A fixed ratio (int8 = 25 % of float32) only holds for models whose bytes are almost all large weight
tensors. Small models carry a graph, biases and quantization metadata, and TFLite's dynamic-range mode
leaves weight tensors under 1024 elements in float32 (MobileNet's depthwise kernels, for instance). So
we read the float32 model's constant tensors and apply each mode's storage rules (``qbench.modes``):
the prediction then holds for MNIST and DeepLab alike, within the metadata a converter adds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qbench.modes import Mode

WEIGHTED_OPS = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
                "TRANSPOSE_CONV": (1, 3)}  # op -> (weight input, bias input)
PER_CHANNEL_BYTES = 4 + 8  # one float32 scale and one int64 zero point per output channel


def weighted_ops(model_path: Path) -> list[tuple[int, int, int]]:
    """(weight elements, bias elements, output channels) of each float32 weighted op of the model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}

    def elements(op, position) -> int:
        if position >= len(op["inputs"]) or op["inputs"][position] < 0:
            return 0
        t = tensors[op["inputs"][position]]
        return int(np.prod(t["shape"])) if np.dtype(t["dtype"]) == np.float32 else 0

    found = []
    for op in interpreter._get_ops_details():
        if op["op_name"] in WEIGHTED_OPS:
            w, b = (elements(op, p) for p in WEIGHTED_OPS[op["op_name"]])
            out = tensors[op["outputs"][0]]["shape"]
            found.append((w, b, int(out[-1])))
    return found


def predicted_bytes(float32_model: Path, float32_bytes: int, mode: Mode) -> int:
    """float32 size minus what narrower weights and biases save, plus per-channel quantization parameters."""
    size = float32_bytes
    for weights, biases, channels in weighted_ops(float32_model):
        if mode.weight_bytes < 4 and weights >= mode.min_weight_elements:
            size -= (4 - mode.weight_bytes) * weights
            if mode.weight_bytes == 1:  # int8 weights carry per-channel scales; so do integer biases
                size += PER_CHANNEL_BYTES * channels * (2 if mode.calibrated and biases else 1)
        size -= (4 - mode.bias_bytes) * biases
    return size

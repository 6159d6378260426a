"""What a quantization mode should do to a model's size, predicted from the float32 model itself.

A fixed ratio (int8 = 25 % of float32) only holds for models whose bytes are almost all large weight
tensors. Small models carry a graph, biases and quantization metadata, and TFLite's dynamic-range mode
leaves weight tensors under 1024 elements in float32 (MobileNet's depthwise kernels, for instance). So
we read the float32 model's constant tensors (``qbench.tflite_file``, no interpreter) and apply each mode's
storage rules (``qbench.modes``): the prediction then holds for MNIST and DeepLab alike, within the metadata a
converter adds, which ``allowance`` bounds.
"""

from __future__ import annotations

from pathlib import Path

from qbench.modes import Mode
from qbench.tflite_file import TfliteModel

PER_CHANNEL_BYTES = 4 + 8  # one float32 scale and one int64 zero point per output channel
METADATA_FRACTION = 0.06  # of the float32 size: DEQUANTIZE ops and renamed tensors of bigger models
PER_TENSOR_BYTES = 256  # flatbuffer bytes a mode may add per tensor (a float16 copy's name and shape, an
#                         activation's quantization table); dominates for models of a few kB


def weighted_ops(model_path: Path) -> list[tuple[int, int, int]]:
    """(weight elements, bias elements, output channels) of each float32 weighted op of the model."""
    model = TfliteModel.read(model_path)
    found = []
    for op in model.weighted_ops():
        weight, bias = model.weights(op)
        elements = [t.elements if t is not None and t.dtype == "float32" and t.is_constant else 0
                    for t in (weight, bias)]
        found.append((elements[0], elements[1], int(model.tensors[op.outputs[0]].shape[-1])))
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


def allowance(float32_model: Path, float32_bytes: int) -> float:
    """How far a converted model may be from the prediction: a fraction of float32 plus a little per tensor."""
    return METADATA_FRACTION * float32_bytes + PER_TENSOR_BYTES * len(TfliteModel.read(float32_model).tensors)

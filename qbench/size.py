"""What a quantization mode should do to a model's size, predicted from the float32 model itself.

A fixed ratio (int8 = 25 % of float32) only holds for models whose bytes are almost all large weight
tensors. Small models carry a graph, biases and quantization metadata; TFLite's dynamic-range mode leaves
weight tensors under 1024 elements in float32 (MobileNet's depthwise kernels, for instance); ai-edge-quantizer's
int4 recipes leave depthwise kernels float32 and pack two int4 weights per byte. So we read the float32 model's
constant tensors (``qbench.tflite_file``, no interpreter) and apply each mode's storage rules (``Mode.storage``):
the prediction then holds for MNIST and DeepLab alike, within the metadata a converter adds, which
``allowance`` bounds. Layers a budget search kept at higher precision (``kept``: output tensor name -> precision)
follow that precision's rules (``qbench.modes.KEPT_STORAGE``) instead of the mode's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from qbench.modes import KEPT_STORAGE, Mode
from qbench.tflite_file import TfliteModel

PER_CHANNEL_BYTES = 4 + 8  # one float32 scale and one int64 zero point per output channel
BLOCK_SCALE_BYTES = 4  # one float32 scale per block of weights (blockwise int4)
METADATA_FRACTION = 0.06  # of the float32 size: DEQUANTIZE ops and renamed tensors of bigger models
PER_TENSOR_BYTES = 256  # flatbuffer bytes a mode may add per tensor (a float16 copy's name and shape, an
#                         activation's quantization table); dominates for models of a few kB


@dataclass(frozen=True)
class WeightedOp:
    opcode: str
    weights: int  # float32 weight elements
    biases: int  # float32 bias elements
    channels: int  # output channels
    name: str = ""  # output tensor name (how a budget search names the layers it kept)


def _model(model: TfliteModel | Path) -> TfliteModel:
    return model if isinstance(model, TfliteModel) else TfliteModel.read(model)


def weighted_ops(model: TfliteModel | Path) -> list[WeightedOp]:
    """Each float32 weighted op of the model with its weight and bias sizes."""
    model = _model(model)
    found = []
    for op in model.weighted_ops():
        weight, bias = model.weights(op)
        elements = [t.elements if t is not None and t.dtype == "float32" and t.is_constant else 0
                    for t in (weight, bias)]
        output = model.tensors[op.outputs[0]]
        found.append(WeightedOp(op.opcode, elements[0], elements[1], int(output.shape[-1]), output.name))
    return found


def predicted_bytes(reference: TfliteModel | Path, mode: Mode, kept: Mapping[str, str] | None = None) -> int:
    """The float model's size minus what narrower weights and biases save, plus their quantization parameters.
    ``reference`` is the float32 model the mode starts from (``Artifacts.size_reference``); ``kept``: layers stored
    at another precision (a +budget artifact's ``kept_layers``)."""
    reference = _model(reference)
    size = reference.size
    kept = kept or {}
    for op in weighted_ops(reference):
        rule = KEPT_STORAGE[kept[op.name]] if op.name in kept else mode.storage
        if rule.weight_bits >= 32 or op.opcode not in rule.ops or op.weights < rule.min_weight_elements:
            continue
        size -= 4 * op.weights - math.ceil(op.weights * rule.weight_bits / 8)
        if rule.weight_bits < 16:  # integer weights carry scales (and zero points)
            if rule.block_size:
                size += BLOCK_SCALE_BYTES * math.ceil(op.weights / rule.block_size)
            elif rule.per_channel:
                size += PER_CHANNEL_BYTES * op.channels
            if rule.integer_bias and op.biases:
                size += PER_CHANNEL_BYTES * op.channels
        size -= (4 - rule.bias_bytes) * op.biases
    return size


def allowance(reference: TfliteModel | Path) -> float:
    """How far a converted model may be from the prediction: a fraction of float32 plus a little per tensor."""
    reference = _model(reference)
    return METADATA_FRACTION * reference.size + PER_TENSOR_BYTES * len(reference.tensors)

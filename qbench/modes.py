"""The quantization modes: each one small function that configures a ``tf.lite.TFLiteConverter``.

Importable without TensorFlow: the converter and the ``tf`` module are handed in by ``qbench.convert``.
Each mode also says how it stores constants (thesis §3.3: int8 weights are 1/4 of float32, float16 1/2),
from which ``qbench.size`` predicts a converted model's size out of the float32 model's own tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from qbench.errors import lookup

Configure = Callable[[Any, Any, Callable], None]  # (converter, tf, representative_dataset)


@dataclass(frozen=True)
class Mode:
    id: str
    description: str
    configure: Configure
    calibrated: bool  # needs a representative dataset
    weight_bytes: int  # bytes per element of a conv/fully-connected weight
    bias_bytes: int = 4  # float32 / int32 biases; int64 in 16x8, float16 in float16 mode
    #: Smaller weight tensors stay float32 (TFLite's dynamic-range quantizer skips < 1024 elements).
    min_weight_elements: int = 0
    #: Its quality class (FAMILIES): which budget and floor a task holds it to.
    family: str = "8bit"


def _float32(converter, tf, rep) -> None:
    pass


def _dynamic(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _float16(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _full_integer(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]


def _int8(converter, tf, rep) -> None:
    _full_integer(converter, tf, rep)
    converter.inference_input_type = tf.uint8  # as in the thesis (Code Listing 3.10)
    converter.inference_output_type = tf.uint8


def _int16x8(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]


#: Quality classes of modes. A task sets a quality *budget* (what the thesis's question asks: e.g. mIoU within
#: 96 % of float32) and a *floor* (below which the conversion is broken, not just lossy) per family.
FAMILIES = {
    "float": "float weights and activations (float32, float16)",
    "8bit": "8-bit weights, int8 or float activations",
    "16bit": "int16 activations, int8 weights",
    "4bit": "4-bit weights",
}

MODES: dict[str, Mode] = {
    m.id: m
    for m in (
        Mode("float32", "no quantization (baseline)", _float32, False, 4, family="float"),
        Mode("dynamic", "dynamic range: int8 weights, float activations", _dynamic, False, 1,
             min_weight_elements=1024),
        Mode("float16", "float16 weights", _float16, False, 2, bias_bytes=2, family="float"),
        Mode("int8", "full integer int8, uint8 input/output (thesis)", _int8, True, 1),
        Mode("int8-float-io", "full integer int8, float input/output", _full_integer, True, 1),
        Mode("int16x8", "int16 activations, int8 weights", _int16x8, True, 1, bias_bytes=8, family="16bit"),
    )
}


def get(mode_id: str) -> Mode:
    return lookup(MODES, mode_id, "mode")

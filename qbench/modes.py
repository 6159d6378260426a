"""The quantization modes: each one small function that configures a ``tf.lite.TFLiteConverter``.

Importable without TensorFlow: the converter and the ``tf`` module are handed in by ``qbench.convert``.
``weight_ratio`` is the size a mode's weights should have relative to float32 (int8 = 1/4, float16 = 1/2,
thesis §3.3); the size benchmark allows a tolerance around it for the graph and quantization metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from qbench.errors import QbenchError

Configure = Callable[[Any, Any, Callable], None]  # (converter, tf, representative_dataset)


@dataclass(frozen=True)
class Mode:
    id: str
    description: str
    configure: Configure
    calibrated: bool  # needs a representative dataset
    weight_ratio: float


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


MODES: dict[str, Mode] = {
    m.id: m
    for m in (
        Mode("float32", "no quantization (baseline)", _float32, False, 1.0),
        Mode("dynamic", "dynamic range: int8 weights, float activations", _dynamic, False, 0.25),
        Mode("float16", "float16 weights", _float16, False, 0.5),
        Mode("int8", "full integer int8, uint8 input/output (thesis)", _int8, True, 0.25),
        Mode("int8-float-io", "full integer int8, float input/output", _full_integer, True, 0.25),
        Mode("int16x8", "int16 activations, int8 weights", _int16x8, True, 0.25),
    )
}


def get(mode_id: str) -> Mode:
    try:
        return MODES[mode_id]
    except KeyError:
        raise QbenchError(f"unknown mode {mode_id!r}", f"choose from {', '.join(MODES)}") from None

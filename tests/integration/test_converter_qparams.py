"""qbench.quantize pinned to the TFLite converter: models calibrated on chosen ranges (empty, near-empty,
positive-only, negative-only, zero points on a tie) and the scale / zero point it stored, compared bit for bit.

The third witness of ``tests/fast/test_quantize_tflite.py`` (which has the other two); here because it needs TensorFlow.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qbench.quantize import NEAR_ZERO_RANGE, calibrated_qparams, choose_qparams


# --- 3. the converter's stored parameters ----------------------------------------------------------------

#: The ranges the issue names, whatever Hypothesis draws besides.
SPECIAL_RANGES = [
    (0.0, 0.0), (3.0, 3.0), (-2.0, -2.0),  # zero-width
    (0.0, 5e-7), (-6e-7, 3e-7), (0.0, 1e-6), (0.0, 1.01e-6),  # near-empty: widened by NEAR_ZERO_RANGE, or not
    (0.5, 2.0), (-3.0, -1.0),  # widened to include 0
    (-10.0, 30.0), (0.0, 30.0), (-10.0, 0.0), (-1.0, 1.0),
    (-0.5 / 255, 254.5 / 255),  # zero point on a tie, where float32 and float64 arithmetic round apart
]


@st.composite
def calibration_range(draw):
    magnitude = 2.0 ** draw(st.integers(-24, 16))
    kind = draw(st.sampled_from(["any", "tie", "special"]))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL_RANGES))
    if kind == "tie":  # rmin = -(k + 1/2) steps: the zero point is k + 1/2 before rounding
        k = draw(st.integers(0, 254))
        step = magnitude * draw(st.floats(0.5, 2.0)) / 255
        return -(k + 0.5) * step, (254 - k + 0.5) * step
    a, b = (draw(st.floats(-1.0, 1.0)) * magnitude for _ in range(2))
    return min(a, b), max(a, b)


@pytest.fixture(scope="module")
def tf():
    from qbench.tf import tensorflow

    return tensorflow()


def stored_input_params(tf, ranges: list[tuple[float, float]], dtype: str) -> list[tuple[float, int]]:
    """Convert a model with one input per range, calibrated on exactly [rmin, rmax], with ``dtype`` inputs, and
    read back the scale and zero point the converter stored for each input."""
    names = [f"r{i:03d}" for i in range(len(ranges))]

    class Net(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 2], tf.float32, name=n) for n in names])
        def __call__(self, *xs):
            return [x * 2.0 for x in xs]

    def calibration():  # keyed by signature input: a list is matched to inputs in another order
        yield {n: np.array([r], dtype=np.float32) for n, r in zip(names, ranges)}

    net = Net()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.__call__.get_concrete_function()], net)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                                           if dtype == "int16" else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = getattr(tf, dtype)
    from ai_edge_litert.interpreter import Interpreter

    stored = {}
    for detail in Interpreter(model_content=converter.convert()).get_input_details():
        assert detail["dtype"] == np.dtype(dtype)
        stored[int(re.search(r"r(\d{3})", detail["name"]).group(1))] = detail["quantization"]
    return [stored[i] for i in range(len(ranges))]


# A calibration set keyed by input name goes through TensorFlow's own (deprecated) interpreter, which says so.
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
@settings(max_examples=3, deadline=None)
@given(st.lists(calibration_range(), min_size=4, max_size=24))
@example(SPECIAL_RANGES)
def test_converter_stores_calibrated_qparams(tf, ranges):
    for dtype in ("int8", "uint8", "int16"):
        for (rmin, rmax), (scale, zero_point) in zip(ranges, stored_input_params(tf, ranges, dtype)):
            ours = calibrated_qparams(rmin, rmax, dtype)
            assert (np.float32(ours.scale), ours.zero_point) == (np.float32(scale), zero_point), (dtype, rmin, rmax)
            lo, hi = min(float(np.float32(rmin)), 0.0), max(float(np.float32(rmax)), 0.0)
            if dtype != "int16" and hi - lo > NEAR_ZERO_RANGE:
                # quantization_util's float64 ChooseQuantizationParams: the same up to float32 rounding
                reference = choose_qparams(lo, hi, dtype)
                assert abs(reference.scale - scale) <= np.spacing(np.float32(scale))
                assert abs(reference.zero_point - zero_point) <= 1

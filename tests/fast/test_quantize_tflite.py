"""qbench.quantize pinned to TFLite itself, not to its own definitions.

Three witnesses, each compared bit for bit:

1. the constants of TFLite's own tests of its reference math (``tensorflow/lite/kernels/internal/
   quantization_util_test.cc``; gemmlowp's ``fixedpoint.h`` for the one saturating case);
2. the LiteRT runtime: a model that is a single QUANTIZE op (``tflite_ops``) run on the ``reference`` and
   ``builtin`` devices, float -> int (quantize) and int -> int with another scale (requantize), on inputs
   built to land on exact half-steps, beyond the integer range, and with real multipliers across the whole
   exponent range (flushed to zero below 2**-32, right shifts, left shifts whose int32 product wraps);
3. the TFLite converter: models calibrated on chosen ranges and the scale / zero point it stored
   (``tests/integration/test_converter_qparams.py``: it needs TensorFlow).

The last tests replace a piece of qbench.quantize with a plausible mistake (banker's rounding, a rounding
shift blind to the sign, the high multiply's ties rounded away from zero, no int32 wrap) and ask Hypothesis to
find an input where TFLite tells them apart: the strategies must reach every data-dependent path (the numpy
``where``s that line coverage cannot see), or those tests fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import event, find, given, settings
from hypothesis import strategies as st

import qbench.quantize as qz
import tflite_ops
from qbench.quantize import (
    RANGES,
    QuantParams,
    choose_qparams,
    multiply_by_quantized_multiplier,
    quantize,
    quantize_multiplier,
    round_half_away,
)
from strategies import qparams

INT32_MIN, INT32_MAX = RANGES["int32"]


# --- 1. TFLite's reference constants (quantization_util_test.cc) -------------------------------------------

@pytest.mark.parametrize("rmin, rmax, scale, zero_point", [
    (-10.0, 30.0, 0.156863, 64),  # TEST(QuantizationUtilTest, ChooseQuantizationParams)
    (0.0, 30.0, 0.117647, 0),  # ...ZeroPointOnMinBoundary
    (0.0, 0.0, 0.0, 0),  # ...EmptyRangeZero: a point range is {0}, scale 0
    (-10.0, 0.0, 0.039216, 255),  # ...ZeroPointOnMaxBoundary
])
def test_choose_qparams_reproduces_tflites_reference_constants(rmin, rmax, scale, zero_point):
    qp = choose_qparams(rmin, rmax, "uint8")
    assert qp.scale == pytest.approx(scale, abs=1e-5) and qp.zero_point == zero_point


@pytest.mark.parametrize("real, expected", [
    # TEST(QuantizationUtilTest, QuantizeMultiplierSmallerThanOneExp)
    (0.25, (1073741824, -1)),
    (0.50 - 5e-9, (2147483627, -1)),
    (0.50 - 1e-10, (1073741824, 0)),  # the mantissa rounds up to 2**31: carry into the exponent
    (0.50, (1073741824, 0)),
    (0.75, (1610612736, 0)),
    (1 - 1e-9, (2147483646, 0)),
    # TEST(QuantizationUtilTest, QuantizeMultiplierGreaterThanOne): positive shifts
    (1 + 1e-11, (1073741824, 1)),
    (1.25, (1342177280, 1)),
    (1.50, (1610612736, 1)),
    (1.75, (1879048192, 1)),
    (2 - 1e-9, (2147483647, 1)),
    (2 - 1e-11, (1073741824, 2)),
    (2.0, (1073741824, 2)),
    # TEST(QuantizationUtilTest, QuantizeMultiplierUnderflow): flush to zero below 2**-32
    (math.ldexp(1.0, -31), (1073741824, -30)),
    (math.ldexp(1.0, -32), (1073741824, -31)),
    (math.ldexp(float(np.float32(0.99)), -32), (0, 0)),
    (math.ldexp(1.0, -33), (0, 0)),
    # TEST(QuantizationUtilTest, QuantizeMultiplierArray): zero and negative multipliers
    (0.0, (0, 0)),
    (-4.0, (-1073741824, 3)),
    (-0.125, (-1073741824, -2)),
    (0.125, (1073741824, -2)),
])
def test_quantize_multiplier_reproduces_tflites_reference_constants(real, expected):
    assert quantize_multiplier(real) == expected


def quant_and_multiply(x: int, real: float) -> int:
    return int(multiply_by_quantized_multiplier(np.array([x]), *quantize_multiplier(real))[0])


@pytest.mark.parametrize("x, real, expected", [
    # TEST(QuantizationUtilTest, MultiplyByQuantizedMultiplierInt32), double rounding (TFLite's default)
    (0, 0.1, 0),
    (1, 0.0, 0),
    (10000, 0.00097656, 10),
    (-10000, 0.00097656, -10),
    (INT32_MIN, 0.00001, -21475),
    (INT32_MAX, 0.00001, 21475),
    (10000, -0.00097656, -10),
    (-10000, -0.00097656, 10),
    (INT32_MIN, -0.00001, 21475),
    (INT32_MAX, -0.00001, -21475),
])
def test_multiply_by_quantized_multiplier_reproduces_tflites_reference_constants(x, real, expected):
    assert quant_and_multiply(x, real) == expected


def test_largest_accumulator_and_multiplier_round_like_tflite():
    """The same test's last case: x = M = INT32_MAX, shift -3, equals rounding the exact product."""
    expected = round_half_away(INT32_MAX * INT32_MAX / 2.0 ** (31 + 3))
    out = multiply_by_quantized_multiplier(np.array([INT32_MAX, -INT32_MAX]), INT32_MAX, -3)
    assert out.tolist() == [expected, -expected]


def test_the_one_doubling_high_mul_overflow_saturates():
    """gemmlowp's SaturatingRoundingDoublingHighMul: INT32_MIN * INT32_MIN is the only product that does not
    fit, and saturates to INT32_MAX. A multiplier of -(1 - 1e-11) quantizes to exactly INT32_MIN."""
    multiplier, shift = quantize_multiplier(-(1 - 1e-11))
    assert (multiplier, shift) == (INT32_MIN, 0)
    assert multiply_by_quantized_multiplier(np.array([INT32_MIN, INT32_MIN + 1]), multiplier, shift).tolist() == [
        INT32_MAX, INT32_MAX]


def test_shifts_tflite_leaves_undefined_are_refused():
    multiplier, shift = quantize_multiplier(2.0**31)
    assert shift == 32
    with pytest.raises(ValueError, match="undefined"):
        multiply_by_quantized_multiplier(np.array([1]), multiplier, shift)


# --- 2. the runtime's QUANTIZE and REQUANTIZE ------------------------------------------------------------

def float32_quotient(x: np.ndarray, scale: float) -> np.ndarray:
    return x / np.float32(scale)


@st.composite
def quantize_cases(draw, dtypes=("uint8", "int8", "int16")):
    """Parameters and float32 inputs: exact half-steps, their float32 neighbours, values far beyond the
    integer range (as long as ``x / S`` fits int32, where TFLite's cast is defined), and anything between."""
    qp = draw(qparams(dtypes))
    scale = np.float32(qp.scale)
    steps = st.integers(qp.qmin - qp.zero_point - 40, qp.qmax - qp.zero_point + 40)

    def half_step(k: int) -> np.float32:
        return np.float32(k + 0.5) * scale  # float32 product: x / S in float32 is often exactly k + 0.5

    value = st.one_of(
        steps.map(half_step),
        st.tuples(steps, st.sampled_from([-np.inf, np.inf])).map(lambda kd: np.nextafter(half_step(kd[0]), kd[1],
                                                                                           dtype=np.float32)),
        st.integers(-(2**30), 2**30).map(lambda k: np.float32(k) * scale),  # saturating
        st.floats(-(2.0**30) * float(scale), 2.0**30 * float(scale), width=32),
    )
    x = np.array(draw(st.lists(value, min_size=1, max_size=48)), dtype=np.float32)
    q = float32_quotient(x, qp.scale)
    if np.any(np.abs(q - np.trunc(q)) == 0.5):
        event("an exact float32 half-step")
    if np.any((q < qp.qmin - qp.zero_point - 1) | (q > qp.qmax - qp.zero_point + 1)):
        event("a saturating value")
    return qp, x


def reference_quantize(qp: QuantParams, x: np.ndarray) -> np.ndarray:
    return tflite_ops.run(tflite_ops.quantize_model(len(x), qp), x, "reference")


@given(quantize_cases())
def test_quantize_is_the_reference_quantize_kernel(case):
    qp, x = case
    np.testing.assert_array_equal(quantize(x, qp), reference_quantize(qp, x))


@given(quantize_cases())
def test_optimized_quantize_kernel_rounds_another_way(case):
    """What ``builtin`` computes instead; it differs from the reference kernel (and qbench) only near ties."""
    qp, x = case
    builtin = tflite_ops.run(tflite_ops.quantize_model(len(x), qp), x, "builtin")
    np.testing.assert_array_equal(builtin, tflite_ops.optimized_quantize(x, qp))
    assert np.abs(builtin.astype(np.int64) - quantize(x, qp)).max() <= 1


REQUANTIZE_PAIRS = [("int8", "int8"), ("uint8", "int8"), ("int8", "uint8"), ("uint8", "uint8"),
                    ("int16", "int16"), ("int16", "int8")]  # every int -> int pair TFLite's QUANTIZE accepts


@st.composite
def requantize_cases(draw):
    """Input / output parameters whose ratio (the real multiplier) spans 2**-46 (flushed to zero) to 2**30
    (left shift 30: the int32 product wraps), with exact powers of two (ties in the rounding right shift)
    drawn often. The inputs are every int8 / uint8 value (or int16's extremes) and a random tail, so that the
    optimized kernel runs both its 16-wide vector path and its scalar remainder."""
    src, dst = draw(st.sampled_from(REQUANTIZE_PAIRS))
    in_scale = np.float32(draw(st.floats(2.0**-20, 2.0**10, width=32)))
    mantissa = draw(st.one_of(st.just(0.5), st.floats(0.5, 1.0, exclude_max=True)))
    real = mantissa * 2.0 ** draw(st.integers(-45, 30))
    out_scale = np.float32(in_scale / real)  # normal float32 for every draw: 2**-50 .. 2**56
    zero_point = {d: 0 if d == "int16" else draw(st.integers(*RANGES[d])) for d in (src, dst)}
    lo, hi = RANGES[src]
    extremes = [lo, lo + 1, -1, 0, 1, hi - 1, hi] if src == "int16" else list(range(lo, hi + 1))
    x = np.array(extremes + draw(st.lists(st.integers(lo, hi), max_size=40)), dtype=src)
    inp = QuantParams(float(in_scale), zero_point[src], src)
    out = QuantParams(float(out_scale), zero_point[dst], dst)
    multiplier, shift = quantize_multiplier(inp.scale / out.scale)
    event("flushed to zero" if multiplier == 0 else f"shift {'> 0' if shift > 0 else '<= 0'}")
    if np.abs(x.astype(np.int64) - inp.zero_point).max() * 2.0 ** max(shift, 0) >= 2**31:
        event("the left-shifted input wraps around int32")
    return inp, out, x


def requantize_on(device: str, inp: QuantParams, out: QuantParams, x: np.ndarray) -> np.ndarray:
    return tflite_ops.run(tflite_ops.quantize_model(len(x), out, inp), x, device)


@given(requantize_cases())
def test_requantize_is_the_reference_requantize_kernel(case):
    inp, out, x = case
    np.testing.assert_array_equal(tflite_ops.requantize(*case), requantize_on("reference", inp, out, x))


@given(requantize_cases())
def test_optimized_requantize_kernel_rounds_ties_up(case):
    """What ``builtin`` computes instead, so that its one-step differences from ``reference`` (and between
    machines: ``qbench consistency`` allows 1 LSB there) are explained, not just tolerated."""
    inp, out, x = case
    builtin = requantize_on("builtin", inp, out, x)
    np.testing.assert_array_equal(builtin, tflite_ops.optimized_requantize(*case))
    assert np.abs(builtin.astype(np.int64) - tflite_ops.requantize(*case)).max() <= 1


# --- the comparison catches plausible mistakes -----------------------------------------------------------

def agrees_with_reference_quantize(case) -> bool:
    qp, x = case
    return np.array_equal(quantize(x, qp), reference_quantize(qp, x))


def agrees_with_reference_requantize(case) -> bool:
    inp, out, x = case
    return np.array_equal(tflite_ops.requantize(inp, out, x), requantize_on("reference", inp, out, x))


def bankers(x):
    return np.round(np.asarray(x, dtype=np.float64))  # numpy rounds half to even


def rounding_divide_ignoring_sign(x, exponent):
    mask = (1 << exponent) - 1
    return (x >> exponent) + ((x & mask) > (mask >> 1))  # no "+ (x < 0)": negative ties round up


def doubling_high_mul_rounding_away(a, b):
    ab = np.asarray(a, dtype=np.int64) * b  # gemmlowp rounds the high half's ties up (toward +inf), not away
    return np.sign(ab) * ((np.abs(ab) + (1 << 30)) >> 31)


@pytest.mark.parametrize("name, mistake, cases, agrees", [
    ("round_half_away", bankers, quantize_cases(), agrees_with_reference_quantize),
    ("_rounding_divide_by_pot", rounding_divide_ignoring_sign, requantize_cases(), agrees_with_reference_requantize),
    ("_saturating_rounding_doubling_high_mul", doubling_high_mul_rounding_away, requantize_cases(),
     agrees_with_reference_requantize),
    ("_wrap_int32", lambda x: x, requantize_cases(), agrees_with_reference_requantize),
], ids=["bankers-rounding", "rounding-shift-ignores-sign", "high-mul-rounds-away", "no-int32-wrap"])
def test_a_plausible_mistake_is_caught_by_the_tflite_comparison(monkeypatch, name, mistake, cases, agrees):
    monkeypatch.setattr(qz, name, mistake)
    counterexample = find(cases, lambda case: not agrees(case), settings=settings(max_examples=2000, database=None))
    assert not agrees(counterexample)

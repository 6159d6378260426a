"""Property tests of qbench.quantize: the affine scheme r = S (q - Z) as TFLite implements it."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qbench.quantize import (
    RANGES,
    QuantParams,
    choose_per_channel_weight_qparams,
    choose_qparams,
    choose_symmetric_qparams,
    dequantize,
    multiply_by_quantized_multiplier,
    quantize,
    quantize_multiplier,
    round_half_away,
)
from strategies import float_arrays, qparams

# float32 division in quantize() may put a value a few ulps past a rounding boundary
ULPS = 2.0**-21


@given(qparams(), st.data())
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(qp, data):
    lo, hi = qp.scale * (qp.qmin - qp.zero_point), qp.scale * (qp.qmax - qp.zero_point)
    x = data.draw(float_arrays(lo, hi))
    error = np.abs(dequantize(quantize(x, qp), qp).astype(np.float64) - x)
    assert np.all(error <= qp.scale / 2 + np.abs(x) * ULPS + qp.scale * ULPS)


@given(qparams(), st.floats(1.0, 1e3))
def test_values_outside_the_range_clamp_to_the_ends(qp, beyond):
    lo, hi = qp.scale * (qp.qmin - qp.zero_point), qp.scale * (qp.qmax - qp.zero_point)
    x = np.array([lo - beyond * qp.scale - qp.scale, hi + beyond * qp.scale + qp.scale], dtype=np.float32)
    assert quantize(x, qp).tolist() == [qp.qmin, qp.qmax]


@given(qparams())
def test_zero_is_exactly_representable(qp):
    q = quantize(np.zeros(1, np.float32), qp)
    assert q[0] == qp.zero_point
    assert dequantize(q, qp)[0] == 0.0


@given(
    st.sampled_from(["uint8", "int8", "int16"]),
    st.booleans(),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.floats(-1e4, 1e4, allow_nan=False),
)
def test_chosen_params_cover_the_range_and_represent_zero(dtype, narrow_range, a, b):
    rmin, rmax = min(a, b), max(a, b)  # either may be on the wrong side of 0: the range widens to include it
    qp = choose_qparams(rmin, rmax, dtype, narrow_range)
    rmin, rmax = min(rmin, 0.0), max(rmax, 0.0)
    qmin, qmax = RANGES[dtype]
    qmin += narrow_range
    if (rmax - rmin) / (qmax - qmin) == 0.0:  # the range is {0} (quantization_util returns scale 0, zero
        assert (qp.scale, qp.zero_point) == (0.0, 0)  # point 0), or its step underflows (a subnormal range)
        return
    assume(rmax - rmin > 1e-6)  # (tiny ranges: the float64 error terms below stop being negligible)
    assert qmin <= qp.zero_point <= qmax
    assert dequantize(quantize(np.zeros(1, np.float32), qp), qp)[0] == 0.0
    # nudging the zero point shifts the range by at most one step
    assert qp.scale * (qmin - qp.zero_point) <= rmin + qp.scale * (1 + ULPS)
    assert qp.scale * (qmax - qp.zero_point) >= rmax - qp.scale * (1 + ULPS)


@pytest.mark.parametrize("rmin, rmax", [(0.0, 5e-324), (-5e-324, 0.0), (-1e-323, 1e-323)])
def test_a_range_whose_step_underflows_gets_no_scale_rather_than_a_division_by_zero(rmin, rmax):
    for dtype in RANGES:
        assert choose_qparams(rmin, rmax, dtype) == choose_qparams(0.0, 0.0, dtype) == QuantParams(0.0, 0, dtype)


@given(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)))
def test_int16_activations_are_symmetric(absmax):
    qp = choose_symmetric_qparams(absmax, "int16")
    assert qp.zero_point == 0
    if absmax == 0:  # an all-zero tensor: no scale to speak of (the converter's rule is calibrated_qparams)
        assert qp.scale == 0.0
        return
    q = quantize(np.array([-absmax, absmax], np.float32), qp)
    assert q.tolist() == [-32767, 32767]


@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=6),
        # real weights are 0 or well above float32's subnormals (whose scale /127 underflows)
        elements=st.floats(-10, 10, width=32, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-30),
    ),
    st.data(),
)
def test_per_channel_weights_are_symmetric_int8(w, data):
    axis = data.draw(st.integers(0, w.ndim - 1))
    qp = choose_per_channel_weight_qparams(w, axis)
    q = quantize(w, qp)
    assert np.all(np.asarray(qp.zero_point) == 0)
    assert q.min() >= -127 and q.max() <= 127
    scale = np.expand_dims(np.asarray(qp.scale), [d for d in range(w.ndim) if d != axis])
    # half a step, plus float32's own rounding of the dequantized value (a weight on a tie, 4.5 of a channel whose
    # largest is 9, lands half a step away give or take one float32 ulp of 4.5: Hypothesis found it)
    slack = 2 * np.spacing(np.abs(w).astype(np.float32)) + 1e-7
    assert np.all(np.abs(dequantize(q, qp) - w) <= scale / 2 * (1 + ULPS) + slack)
    # each channel's largest magnitude lands on +-127
    absmax_q = np.abs(np.moveaxis(q, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
    nonzero = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1) > 0
    assert np.all(absmax_q[nonzero] == 127)


#: QuantizeMultiplier flushes a multiplier to zero when its exponent would be below -31, i.e. below 2**-32
#: less the half unit of Q31 rounding that carries it up to exactly 2**-32 (quantization_util.cc).
FLUSHED_BELOW = (1 - 2.0**-32) * 2.0**-32


@given(st.floats(FLUSHED_BELOW, 2.0**30))
def test_quantize_multiplier_is_a_q31_mantissa_and_shift(real):
    m, shift = quantize_multiplier(real)
    assert 2**30 <= m < 2**31 and -31 <= shift <= 31
    assert m * 2.0 ** (shift - 31) == pytest.approx(real, rel=2.0**-31)


@given(st.floats(0.0, FLUSHED_BELOW, exclude_max=True))
def test_quantize_multiplier_flushes_below_two_to_the_minus_32(real):
    assert quantize_multiplier(real) == (0, 0)


#: From here the Q31 mantissa carries into a shift of 32, which TFLite's int32 left shift cannot do.
SHIFT_32_FROM = (1 - 2.0**-32) * 2.0**31


@given(st.floats(SHIFT_32_FROM, 2.0**100), st.integers(-(2**31), 2**31 - 1))
def test_multipliers_beyond_tflites_left_shift_are_refused(real, x):
    multiplier, shift = quantize_multiplier(real)
    assert shift >= 32
    with pytest.raises(ValueError, match="undefined"):
        multiply_by_quantized_multiplier(np.array([x]), multiplier, shift)


@given(st.floats(1e-6, 0.99, allow_nan=False), hnp.arrays(np.int64, 16, elements=st.integers(-(2**24), 2**24)))
def test_fixed_point_rescale_matches_float_within_one(real, acc):
    m, shift = quantize_multiplier(real)
    out = multiply_by_quantized_multiplier(acc, m, shift)
    assert np.all(np.abs(out - round_half_away(acc * real)) <= 1)


def test_round_half_away_differs_from_numpy_on_ties():
    assert round_half_away(np.array([0.5, 1.5, 2.5, -0.5, -2.5])).tolist() == [1, 2, 3, -1, -3]
    assert np.round([0.5, 2.5]).tolist() == [0, 2]  # banker's rounding: why we do not use np.round

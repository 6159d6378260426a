"""Affine quantization as TensorFlow Lite does it, in plain numpy.

``r = S * (q - Z)``: a real value ``r`` is stored as an integer ``q`` with a scale ``S`` and a zero point
``Z`` (thesis §2.1.3). The functions mirror TFLite so that the parameters stored in a converted model can be
checked against them, and so that the runner can quantize inputs exactly as a model's own QUANTIZE op would.
Which TFLite, precisely, matters at the last bit, and tests/fast/test_quantize_tflite.py pins each function to it:

- ``quantize`` and ``multiply_by_quantized_multiplier`` are the *reference* kernels (``BUILTIN_REF``) bit for
  bit. The optimized built-in kernels differ by at most one step, near ties: their vector paths multiply by
  the scale's float32 reciprocal and round half to even (QUANTIZE) or round the requantization's ties up, not
  away from zero (tests/tflite_ops.py states their rules exactly).
- ``choose_qparams`` and ``quantize_multiplier`` are ``quantization_util.cc``'s ``ChooseQuantizationParams``
  and ``QuantizeMultiplier``; ``calibrated_qparams`` is what the converter actually stores for a calibrated
  activation range (it computes in float32 and widens near-empty ranges, where ``choose_qparams`` would give
  a scale of 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Integer ranges TFLite uses per storage type.
RANGES = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
}


@dataclass(frozen=True)
class QuantParams:
    """Per-tensor (scalar) or per-channel (arrays along ``axis``) affine parameters."""

    scale: float | np.ndarray
    zero_point: int | np.ndarray
    dtype: str
    axis: int | None = None

    @property
    def qmin(self) -> int:
        return RANGES[self.dtype][0]

    @property
    def qmax(self) -> int:
        return RANGES[self.dtype][1]


def round_half_away(x: np.ndarray) -> np.ndarray:
    """``std::round`` semantics (TfLiteRound), unlike numpy's round-half-to-even."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def choose_qparams(rmin: float, rmax: float, dtype: str = "int8", narrow_range: bool = False) -> QuantParams:
    """Asymmetric parameters for the observed range [rmin, rmax] (TFLite ``ChooseQuantizationParams``).

    The range is first widened to contain 0 so that 0.0 (padding, ReLU) is exactly representable; the zero
    point is then "nudged" to an integer, picking the end of the range that loses less precision.
    """
    qmin, qmax = RANGES[dtype]
    qmin += 1 if narrow_range else 0
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    scale = (rmax - rmin) / (qmax - qmin)
    if scale == 0.0:  # the range is {0}, or so narrow (subnormal) that its step underflows: no usable scale
        return QuantParams(0.0, 0, dtype)
    zp_from_min = qmin - rmin / scale
    zp_from_max = qmax - rmax / scale
    err_min = abs(qmin) + abs(rmin / scale)
    err_max = abs(qmax) + abs(rmax / scale)
    zp = zp_from_min if err_min < err_max else zp_from_max
    zp = int(np.clip(round_half_away(zp), qmin, qmax))
    return QuantParams(scale, zp, dtype)


#: The converter widens an activation range (after including 0) no wider than this by as much on each side,
#: so that a constant-zero tensor gets a usable scale (MLIR quantizer's ``kNearZeroTolerance``; the widening
#: by the full tolerance per side is observed on TF 2.21 and pinned by tests/fast/test_quantize_tflite.py).
NEAR_ZERO_RANGE = 1e-6


def calibrated_qparams(rmin: float, rmax: float, dtype: str = "int8") -> QuantParams:
    """The parameters the TFLite converter stores for an activation calibrated to [rmin, rmax].

    int8 / uint8 follow the MLIR quantizer: the range is widened to contain 0 (and to ``NEAR_ZERO_RANGE``
    when it is narrower), the scale is computed in float32 and the zero point from the minimum alone, in float32
    (``DownCastScale``; ``choose_qparams`` computes both in float64 and differs from the converter, by one float32
    ulp of the scale or one step of the zero point, for about a quarter of random ranges). uint8 is int8 shifted by 128, as the converter rewrites uint8 model inputs and outputs.
    int16 (16x8 mode) is symmetric, with the range's magnitude floored at float32's smallest normal number.
    """
    rmin, rmax = float(np.float32(rmin)), float(np.float32(rmax))
    if dtype == "int16":
        absmax = max(abs(rmin), abs(rmax), float(np.finfo(np.float32).tiny))
        return QuantParams(float(np.float32(absmax / RANGES["int16"][1])), 0, dtype)
    lo, hi = min(rmin, 0.0), max(rmax, 0.0)
    if hi - lo <= NEAR_ZERO_RANGE:
        lo, hi = lo - NEAR_ZERO_RANGE, hi + NEAR_ZERO_RANGE
    qmin, qmax = RANGES["int8"]
    scale = (np.float32(hi) - np.float32(lo)) / np.float32(qmax - qmin)
    zp = float(np.float32(qmin - lo / float(scale)))
    zp = int(np.clip(round_half_away(zp), qmin, qmax)) + {"int8": 0, "uint8": 128}[dtype]
    return QuantParams(float(scale), zp, dtype)


def choose_symmetric_qparams(absmax: float, dtype: str = "int16") -> QuantParams:
    """Symmetric parameters (zero point 0), as TFLite uses for int16 activations in 16x8 mode."""
    qmax = RANGES[dtype][1]
    return QuantParams(float(absmax) / qmax if absmax > 0 else 0.0, 0, dtype)


def choose_per_channel_weight_qparams(weights: np.ndarray, axis: int) -> QuantParams:
    """Symmetric per-channel int8 weights: zero point 0, values in [-127, 127] (TFLite's int8 spec).

    The narrow range keeps -128 unused so that the weight range is symmetric around 0.
    """
    w = np.moveaxis(np.asarray(weights, dtype=np.float64), axis, 0).reshape(np.shape(weights)[axis], -1)
    absmax = np.abs(w).max(axis=1)
    scale = np.where(absmax > 0, absmax / 127.0, 1.0)
    return QuantParams(scale, np.zeros_like(scale, dtype=np.int64), "int8", axis=axis)


def _broadcast(qp: QuantParams, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    scale = np.asarray(qp.scale, dtype=np.float64)
    zp = np.asarray(qp.zero_point, dtype=np.int64)
    if qp.axis is not None:
        shape = [1] * ndim
        shape[qp.axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return scale, zp


def quantize(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """``q = clamp(round(x / S) + Z)`` with the division done in float32, like TFLite's reference QUANTIZE.

    Values whose ``x / S`` lies beyond int32 saturate here; TFLite casts them to int32 first, which C++ leaves
    undefined (x86 yields the minimum, arm64 saturates).
    """
    x = np.asarray(x, dtype=np.float32)
    scale, zp = _broadcast(qp, x.ndim)
    if qp.axis is not None and qp.dtype == "int8":
        lo, hi = -127, 127  # per-channel weights use the narrow range
    else:
        lo, hi = qp.qmin, qp.qmax
    q = round_half_away(x / scale.astype(np.float32)) + zp
    return np.clip(q, lo, hi).astype(qp.dtype)


def dequantize(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """``r = S * (q - Z)``."""
    q = np.asarray(q)
    scale, zp = _broadcast(qp, q.ndim)
    return (scale * (q.astype(np.int64) - zp)).astype(np.float32)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ≈ M * 2**(shift - 31)`` with M a Q31 int32 in [2**30, 2**31).

    Integer kernels rescale accumulators (``S_in * S_w / S_out``) with this, so no float runs at inference.
    """
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = np.frexp(real_multiplier)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, int(shift)


def _saturating_rounding_doubling_high_mul(a: np.ndarray, b: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    n = ab + nudge
    d = np.int64(1 << 31)
    out = np.where(n >= 0, n // d, -((-n) // d))  # C++ division truncates toward zero
    overflow = (a == -(2**31)) & (b == -(2**31))
    return np.where(overflow, 2**31 - 1, out)


def _rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def _wrap_int32(x: np.ndarray) -> np.ndarray:
    return (x + 2**31) % 2**32 - 2**31


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier``: fixed-point ``x * real`` on int32 accumulators.

    A positive shift multiplies ``x`` by ``2**shift`` in int32 first, and TFLite's kernels let that product wrap
    around (real multipliers above ~2**23 with int8 inputs); so does this, to compute what the kernels compute.
    Shifts above 31 are undefined behaviour in TFLite (a C++ shift by 32 or more) and are refused.
    """
    if shift > 31:
        raise ValueError(f"shift {shift} > 31: TFLite's left shift is undefined there")
    left, right = max(shift, 0), max(-shift, 0)
    x = _wrap_int32(np.asarray(x, dtype=np.int64) * (1 << left))
    return _rounding_divide_by_pot(_saturating_rounding_doubling_high_mul(x, multiplier), right)

"""Affine quantization as TensorFlow Lite does it, in plain numpy.

``r = S * (q - Z)``: a real value ``r`` is stored as an integer ``q`` with a scale ``S`` and a zero point
``Z`` (thesis §2.1.3). The functions mirror TFLite's ``quantization_util`` so that the parameters stored in a
converted model can be checked against them, and so that the runner can quantize inputs exactly as a
model's own QUANTIZE op would.
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
    if rmin == rmax:
        return QuantParams(0.0, 0, dtype)
    scale = (rmax - rmin) / (qmax - qmin)
    zp_from_min = qmin - rmin / scale
    zp_from_max = qmax - rmax / scale
    err_min = abs(qmin) + abs(rmin / scale)
    err_max = abs(qmax) + abs(rmax / scale)
    zp = zp_from_min if err_min < err_max else zp_from_max
    zp = int(np.clip(round_half_away(zp), qmin, qmax))
    return QuantParams(scale, zp, dtype)


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
    """``q = clamp(round(x / S) + Z)`` with the division done in float32, like TFLite's QUANTIZE op."""
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


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier``: fixed-point ``x * real`` on int32 accumulators."""
    left, right = max(shift, 0), max(-shift, 0)
    x = np.asarray(x, dtype=np.int64) * (1 << left)
    return _rounding_divide_by_pot(_saturating_rounding_doubling_high_mul(x, multiplier), right)

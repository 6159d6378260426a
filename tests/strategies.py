"""Hypothesis strategies for quantization parameters, after PyTorch's ``hypothesis_utils.qparams()``."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qbench.quantize import RANGES, QuantParams

ACTIVATION_DTYPES = ("uint8", "int8", "int16")


@st.composite
def qparams(draw, dtypes=ACTIVATION_DTYPES, scale_min=2.0**-20, scale_max=2.0**10) -> QuantParams:
    """Per-tensor parameters as TFLite stores them: float32 scale, zero point in range (0 for int16)."""
    dtype = draw(st.sampled_from(dtypes))
    qmin, qmax = RANGES[dtype]
    zero_point = 0 if dtype == "int16" else draw(st.integers(qmin, qmax))
    scale = draw(st.floats(scale_min, scale_max, width=32, allow_nan=False, allow_infinity=False))
    return QuantParams(float(np.float32(scale)), zero_point, dtype)


def _inward_float32(value: float, toward: float) -> float:
    v = np.float32(value)
    if (float(v) < value and toward > value) or (float(v) > value and toward < value):
        v = np.nextafter(v, np.float32(toward))
    return float(v)


def float_arrays(min_value: float, max_value: float, max_size: int = 64):
    """float32 arrays inside [min_value, max_value] (bounds rounded inward to float32)."""
    min_value, max_value = _inward_float32(min_value, max_value), _inward_float32(max_value, min_value)
    return hnp.arrays(
        np.float32,
        st.integers(1, max_size),
        elements=st.floats(min_value, max_value, width=32, allow_nan=False, allow_infinity=False),
    )

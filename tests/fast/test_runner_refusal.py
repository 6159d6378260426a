"""A runtime that refuses a complete file: the mode does not apply on that device (a skip with the runtime's words and
what in the file it balks at), not a damaged file to rebuild."""

import numpy as np
import pytest

import tiny_tflite
from qbench import runtime
from qbench.errors import NotApplicable


@pytest.mark.parametrize("device", ["xnnpack", "cm-xnnpack"])
def test_a_complete_file_a_device_refuses_skips_with_the_runtimes_reason_and_the_zero_scale(tmp_path, device):
    """XNNPACK refuses a per-channel weight scale of 0 (ai-edge-quantizer's int4 blocks wrote one on MediaPipe's hand
    landmark model); the built-in kernels run the same file. Not a damaged file: the mode does not apply here."""
    path = tmp_path / "zero-scale.tflite"
    path.write_bytes(tiny_tflite.dense(4, per_tensor=False, scales=[0.01, 0.0, 0.02, 0.03]))
    with pytest.raises(NotApplicable) as exc:
        runtime.open_runner(path, runtime.get(device), label="toy aeq-int4-block32")
    problem = exc.value.problem
    assert problem.startswith(f"{device} (") and "refuses toy aeq-int4-block32" in problem
    assert "quantization scale of 0 (tensor 1 'w', channel 1)" in problem and "rebuild" not in exc.value.fix
    if device == "xnnpack":
        assert "unsupported scale value (0.000000) in channel 1" in problem and "delegate; " in problem
    runner = runtime.open_runner(path, runtime.get("builtin"))
    runner.set_input(np.ones((1, 4), np.float32))
    runner.invoke()
    assert runner.output()[0, 1] == 0  # the zero-scale channel dequantizes to 0

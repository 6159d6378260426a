"""Model size per model x mode, and its ratio to the same model's float32 file.

Expected ratios come from what each mode stores (thesis §3.3): int8 weights are 1/4 of float32 ("up to
75 % smaller"), float16 weights 1/2. The flatbuffer's graph, biases (int32/int64 in full-integer modes) and
per-channel quantization parameters add a little on top, so we allow the ratio to sit up to 0.10 above the
weight ratio (measured on MNIST: dynamic 0.29, int8 0.30, float16 0.53) and at most 0.02 below it.
"""

from qbench import modes


def test_size(qbench, qbench_model, qbench_mode):
    artifact = qbench.tflite(qbench_model, qbench_mode)
    ratio = artifact.bytes / qbench.tflite(qbench_model, "float32").bytes
    expected = modes.get(qbench_mode).weight_ratio
    assert expected - 0.02 <= ratio <= expected + 0.10, (
        f"{qbench_model} {qbench_mode}: {artifact.bytes} bytes = {ratio:.3f} of float32, expected ~{expected}"
    )

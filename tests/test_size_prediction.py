"""qbench.size on the real MNIST models: the prediction is exact where no quantization metadata exists."""

from qbench import modes
from qbench.size import predicted_bytes, weighted_ops


def test_finds_the_thesis_models_weights(qbench):
    ops = weighted_ops(qbench.tflite("mnist_cnn", "float32").path)
    assert ops == [(12 * 3 * 3 * 1, 12, 12), (10 * 13 * 13 * 12, 10, 10)]  # Conv2D 12 3x3, Dense 10


def test_float32_predicts_itself_and_int8_saves_three_bytes_per_weight(qbench):
    ref = qbench.tflite("mnist_cnn", "float32")
    assert predicted_bytes(ref.path, ref.bytes, modes.get("float32")) == ref.bytes
    dynamic = predicted_bytes(ref.path, ref.bytes, modes.get("dynamic"))
    # the 108-element conv kernel is under dynamic range's 1024-element threshold: only Dense shrinks
    assert dynamic == ref.bytes - 3 * 20280 + 12 * 10

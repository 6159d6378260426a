"""qbench.size on the real MNIST models: the prediction is exact where no quantization metadata exists."""

from qbench import modes
from qbench.size import predicted_bytes, weighted_ops

#: The thesis model's weight and bias elements (Conv2D 12 3x3 on 1 channel, Dense 10 on 13x13x12).
CONV_W, CONV_B, DENSE_W, DENSE_B = 12 * 3 * 3 * 1, 12, 10 * 13 * 13 * 12, 10


def test_finds_the_thesis_models_weights(qbench):
    ops = weighted_ops(qbench.artifacts.tflite("mnist_cnn", "float32").path)
    assert [(o.opcode, o.weights, o.biases, o.channels) for o in ops] == [
        ("CONV_2D", CONV_W, CONV_B, 12), ("FULLY_CONNECTED", DENSE_W, DENSE_B, 10)]


def test_each_mode_saves_what_its_storage_rules_say(qbench):
    """Hand-derived from the architecture and TFLite's storage rules (not from a run), per mode."""
    ref = qbench.artifacts.tflite("mnist_cnn", "float32")

    def saved(mode: str) -> int:
        return ref.bytes - predicted_bytes(ref.path, modes.get(mode))

    # float16: 2 of 4 bytes of every weight and bias
    assert saved("float16") == 2 * (CONV_W + CONV_B + DENSE_W + DENSE_B)
    # dynamic: the 108-element conv kernel is under the 1024-element threshold, so only Dense shrinks (3 of 4
    # bytes a weight) and gains one float32 scale + int64 zero point per output channel
    assert saved("dynamic") == 3 * DENSE_W - 12 * 10
    # int8 (and int8 with float I/O): all weights, plus per-channel parameters for weights and int32 biases
    assert saved("int8") == saved("int8-float-io") == 3 * (CONV_W + DENSE_W) - 12 * 2 * (12 + 10)
    # int16x8: int8 weights as above, but int64 biases grow by 4 bytes each
    assert saved("int16x8") == 3 * (CONV_W + DENSE_W) - 12 * 2 * (12 + 10) - 4 * (CONV_B + DENSE_B)
    # ai-edge-quantizer int4 on conv and dense layers: two weights a byte (3.5 of 4 bytes saved, odd counts
    # rounded up), one float32 scale + int64 zero point per output channel, float32 biases unchanged
    int4 = (4 * CONV_W - (CONV_W + 1) // 2) + (4 * DENSE_W - (DENSE_W + 1) // 2) - 12 * (12 + 10)
    assert saved("aeq-weight-int4") == saved("aeq-dynamic-int4") == int4

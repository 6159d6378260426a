"""Cross-check qbench.quantize against what the real converter wrote and the real runtime computes.

The property tests pin down the math; these tests pin down that TFLite follows the same math: the
parameters stored in the converted MNIST models obey the int8 / 16x8 specification, and the model's own
QUANTIZE op produces exactly the integers qbench.quantize predicts.
"""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from qbench.quantize import QuantParams, choose_per_channel_weight_qparams, quantize
from qbench.tflite_file import WEIGHTED_OPS

MODEL = "mnist_cnn"


def load(path, preserve=False):
    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=preserve,
    )
    interpreter.allocate_tensors()
    return interpreter


def weighted_ops(interpreter):
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    for op in interpreter._get_ops_details():
        if op["op_name"] in WEIGHTED_OPS:
            yield op["op_name"], [tensors[i] for i in op["inputs"]]


def qp(tensor):
    return tensor["quantization_parameters"]


@pytest.mark.parametrize("mode", ["int8", "int16x8"])
def test_stored_parameters_follow_the_tflite_quantization_spec(qbench, mode):
    interpreter = load(qbench.tflite(MODEL, mode).path)
    ops = list(weighted_ops(interpreter))
    assert {name for name, _ in ops} == {"CONV_2D", "FULLY_CONNECTED"}
    for name, (activation, weights, bias) in ops:
        w = interpreter.get_tensor(weights["index"])
        assert w.dtype == np.int8, name
        assert np.all(qp(weights)["zero_points"] == 0), f"{name}: weights must be symmetric"
        assert w.min() >= -127 and w.max() <= 127, f"{name}: int8 weights use the narrow range"
        per_channel_max = np.abs(np.moveaxis(w, qp(weights)["quantized_dimension"], 0).reshape(len(w), -1)).max(1)
        assert np.all(per_channel_max == 127), f"{name}: each channel's largest weight maps to +-127"
        assert np.all(qp(bias)["zero_points"] == 0)
        np.testing.assert_allclose(
            qp(bias)["scales"], qp(activation)["scales"][0] * qp(weights)["scales"], rtol=1e-6,
            err_msg=f"{name}: bias scale must be input scale x weight scale",
        )
        if mode == "int16x8":
            assert activation["dtype"] == np.int16 and np.all(qp(activation)["zero_points"] == 0)
            assert bias["dtype"] == np.int64
        else:
            assert activation["dtype"] == np.int8 and bias["dtype"] == np.int32


def test_weights_match_qbench_per_channel_quantization_of_the_float_model(qbench):
    float_ops = list(weighted_ops(load(qbench.tflite(MODEL, "float32").path)))
    int8 = load(qbench.tflite(MODEL, "int8").path)
    float_interpreter = load(qbench.tflite(MODEL, "float32").path)
    for (name, (_, wf, _)), (_, (_, wq, _)) in zip(float_ops, weighted_ops(int8)):
        w_float = float_interpreter.get_tensor(wf["index"])
        axis = qp(wq)["quantized_dimension"]
        ours = choose_per_channel_weight_qparams(w_float, axis)
        np.testing.assert_allclose(ours.scale, qp(wq)["scales"], rtol=1e-6, err_msg=name)
        theirs = int8.get_tensor(wq["index"])
        np.testing.assert_array_equal(quantize(w_float, ours), theirs, err_msg=name)


def test_quantize_op_output_equals_qbench_quantize(qbench):
    interpreter = load(qbench.tflite(MODEL, "int8-float-io").path, preserve=True)
    quant_op = interpreter._get_ops_details()[0]
    assert quant_op["op_name"] == "QUANTIZE"
    out = next(t for t in interpreter.get_tensor_details() if t["index"] == quant_op["outputs"][0])
    params = QuantParams(float(qp(out)["scales"][0]), int(qp(out)["zero_points"][0]), "int8")
    rng = np.random.default_rng(0)
    images = qbench.eval_set(MODEL).x[:32]
    noise = rng.uniform(-0.5, 1.5, size=(32, 28, 28)).astype(np.float32)  # includes clamped values
    for batch in (images, noise):
        inp = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(inp["index"], list(batch.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        np.testing.assert_array_equal(interpreter.get_tensor(out["index"]), quantize(batch, params))

"""Cross-check qbench.quantize against what the real converter wrote and the real runtime computes.

The property tests (test_quantize_tflite.py) pin the math to TFLite; these pin it to the models qbench actually
benchmarks: the parameters stored in the converted MNIST and segmentation models obey the int8 / 16x8
specification (per-channel weights along each op's own output-channel axis: 0 for CONV_2D and FULLY_CONNECTED,
3 for DEPTHWISE_CONV_2D), qbench's per-channel quantization of the float32 weights reproduces the converter's
int8 weights bit for bit, and the model's own QUANTIZE op produces exactly the integers qbench.quantize predicts
on the reference kernels (and what the optimized kernels' rule predicts on ``builtin``).
"""

import os

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tflite_ops
from qbench import runtime
from qbench.runtime.interpreter import RESOLVERS
from qbench.quantize import QuantParams, choose_per_channel_weight_qparams, choose_qparams, quantize
from qbench.tflite_file import WEIGHTED_OPS

MODELS = ["mnist_cnn", "deeplab_scenes"]
#: The weighted ops each built-in model must contain, and the axis its int8 weights are quantized along.
EXPECTED_OPS = {"mnist_cnn": {"CONV_2D", "FULLY_CONNECTED"}, "deeplab_scenes": {"CONV_2D", "DEPTHWISE_CONV_2D"}}
CHANNEL_AXIS = {"CONV_2D": 0, "FULLY_CONNECTED": 0, "DEPTHWISE_CONV_2D": 3}  # [O,H,W,I], [O,I], [1,H,W,O]


#: Calibration samples for artifacts converted here (modes the default benchmark selection does not build): the
#: properties checked do not depend on how many samples calibrated, and a hundred 256x512 frames cost minutes in 16x8.
FEW = 8


def artifact(qbench, tmp_path_factory, model: str, mode: str):
    """The session's artifact for MNIST (seconds to build) and for the modes a default run builds (the segmentation
    model's int8 is test_runtime_equivalence.py's too: one conversion, under the cache's lock, serves both), else
    this mode converted here from the same source with ``FEW`` calibration samples (calibrating on the benchmark's
    100 frames costs the segmentation model half a minute per mode). Those conversions are written once per run:
    to the temp folder pytest-xdist's workers share, under a file lock, as the cache does (each is ~20 s of
    TensorFlow whatever the samples, and tests of one artifact land on either worker)."""
    from qbench import modes

    if model == "mnist_cnn" or modes.get(mode).default:
        return qbench.artifacts.tflite(model, mode).path
    from filelock import FileLock
    from qbench.quantizers.converter import convert

    root = tmp_path_factory.getbasetemp()
    shared = root.parent if "PYTEST_XDIST_WORKER" in os.environ else root  # the run's folder above each worker's
    path = shared / "converted" / f"{model}-{mode}-{FEW}.tflite"
    path.parent.mkdir(exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            spec = qbench.artifacts.spec(model)
            data = convert(qbench.artifacts.source(model).path, spec.source_format, modes.get(mode),
                           qbench.artifacts.calibration(model)[:FEW], **spec.converter_args())
            partial = path.with_suffix(".partial")
            partial.write_bytes(data)
            partial.rename(path)  # complete or absent, should a worker die mid-write
    return path


def load(path, preserve=False, device="builtin"):
    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType[RESOLVERS[runtime.get(device).kernels]],
        experimental_preserve_all_tensors=preserve,
    )
    interpreter.allocate_tensors()
    return interpreter


def weighted_ops(interpreter) -> list[tuple[str, list[dict]]]:
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    return [(op["op_name"], [tensors[i] for i in op["inputs"]])
            for op in interpreter._get_ops_details() if op["op_name"] in WEIGHTED_OPS]


def qp(tensor):
    return tensor["quantization_parameters"]


def per_channel_absmax(w: np.ndarray, axis: int) -> np.ndarray:
    return np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("mode", ["int8", "int16x8"])
def test_stored_parameters_follow_the_tflite_quantization_spec(qbench, tmp_path_factory, model, mode):
    interpreter = load(artifact(qbench, tmp_path_factory, model, mode))
    ops = weighted_ops(interpreter)
    assert {name for name, _ in ops} == EXPECTED_OPS[model]
    for name, (activation, weights, bias) in ops:
        w = interpreter.get_tensor(weights["index"])
        axis = qp(weights)["quantized_dimension"]
        assert axis == CHANNEL_AXIS[name], f"{name}: weights quantized along axis {axis}"
        assert len(qp(weights)["scales"]) == w.shape[axis], f"{name}: one scale per output channel"
        assert w.dtype == np.int8, name
        assert np.all(qp(weights)["zero_points"] == 0), f"{name}: weights must be symmetric"
        assert w.min() >= -127 and w.max() <= 127, f"{name}: int8 weights use the narrow range"
        assert np.all(per_channel_absmax(w, axis) == 127), f"{name}: each channel's largest weight maps to +-127"
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


@pytest.mark.parametrize("model", MODELS)
def test_weights_match_qbench_per_channel_quantization_of_the_float_model(qbench, tmp_path_factory, model):
    float_model = load(qbench.artifacts.tflite(model, "float32").path)
    int8 = load(artifact(qbench, tmp_path_factory, model, "int8"))
    float_ops, int8_ops = weighted_ops(float_model), weighted_ops(int8)
    # same ops in the same order, or the pairing below would compare unrelated (or too few) tensors
    assert [name for name, _ in float_ops] == [name for name, _ in int8_ops]
    for (name, (_, wf, _)), (_, (_, wq, _)) in zip(float_ops, int8_ops, strict=True):
        w_float = float_model.get_tensor(wf["index"])
        axis = qp(wq)["quantized_dimension"]
        ours = choose_per_channel_weight_qparams(w_float, axis)
        np.testing.assert_array_equal(np.float32(ours.scale), qp(wq)["scales"], err_msg=f"{name} scales")
        np.testing.assert_array_equal(quantize(w_float, ours), int8.get_tensor(wq["index"]), err_msg=name)
        # the same scales as quantization_util's asymmetric rule over the symmetric narrow range [-127, 127]
        absmax = per_channel_absmax(w_float, axis)
        narrow = [choose_qparams(-a, a, "int8", narrow_range=True) for a in absmax.astype(np.float64)]
        assert [p.zero_point for p in narrow] == [0] * len(absmax), name
        np.testing.assert_array_equal(np.float32([p.scale for p in narrow]), qp(wq)["scales"], err_msg=name)


#: Samples run through the whole model; the segmentation model's reference kernels take ~1 s per frame.
SAMPLES = {"mnist_cnn": 32, "deeplab_scenes": 2}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("device", ["reference", "builtin"])
def test_quantize_op_output_equals_qbench_quantize(qbench, tmp_path_factory, model, device):
    """The int8-float-io model's first op quantizes its float input: on the reference kernels exactly as
    qbench.quantize does, on the optimized ones as their measured rule (tflite_ops.optimized_quantize) does."""
    interpreter = load(artifact(qbench, tmp_path_factory, model, "int8-float-io"), preserve=True, device=device)
    quant_op = interpreter._get_ops_details()[0]
    assert quant_op["op_name"] == "QUANTIZE"
    out = next(t for t in interpreter.get_tensor_details() if t["index"] == quant_op["outputs"][0])
    params = QuantParams(float(qp(out)["scales"][0]), int(qp(out)["zero_points"][0]), "int8")
    expected = quantize if device == "reference" else tflite_ops.optimized_quantize
    data = qbench.artifacts.eval_set(model).x[: SAMPLES[model]]
    lo, hi = float(data.min()), float(data.max())
    noise = np.random.default_rng(0).uniform(lo - (hi - lo) / 2, hi + (hi - lo) / 2, size=data.shape)  # clamps too
    for batch in (data, noise.astype(np.float32)):
        inp = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(inp["index"], list(batch.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        got = interpreter.get_tensor(out["index"])
        np.testing.assert_array_equal(got, expected(batch, params).reshape(got.shape))

"""ONNX Runtime without TensorFlow: the .onnx contract reader on graphs ORT's own quantizer makes, the ORT runner,
and the format a runtime refuses. A small float graph is written with ``onnx.helper`` (Conv with 4 output channels,
ReLU, Flatten, a dense MatMul) and quantized by the backend's own ``_quantize`` in each recipe.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from qbench import contracts, machine, modes, runtime  # noqa: E402
from qbench.errors import NotApplicable  # noqa: E402
from qbench.quantizers.ort import OrtBackend, shorten_names  # noqa: E402

ORT_MODES = [m for m, mode in modes.MODES.items() if mode.backend == "ort"]
QUANTIZED = [m for m in ORT_MODES if m != modes.ORT_FLOAT]


def _float_graph(path, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, 4).astype(np.float32)
    dense = rng.normal(0, 0.2, (4 * 4 * 4, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], pads=[0, 0, 0, 0], name="a_very_long;fused;conv_name"),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("Flatten", ["relu"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "dense"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(dense, "dense")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return w, b, dense


def _reference(x, w, b, dense):
    out = np.zeros((len(x), 4, 4, 4), np.float32)
    for i in range(4):
        for j in range(4):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i:i + 3, j:j + 3], w) + b
    return np.maximum(out, 0).reshape(len(x), -1) @ dense


@pytest.fixture
def built(tmp_path):
    """Each ORT mode's file of the toy graph (ort-float32: the float graph itself, names shortened)."""
    source = tmp_path / "float.onnx"
    weights = _float_graph(source)
    calibration = np.random.default_rng(1).uniform(0, 1, (16, 1, 6, 6)).astype(np.float32)
    files = {}
    for mode_id in ORT_MODES:
        path = tmp_path / f"{mode_id}.onnx"
        if mode_id == modes.ORT_FLOAT:
            path.write_bytes(source.read_bytes())
            shorten_names(path)
        else:
            OrtBackend()._quantize(source, path, modes.get(mode_id), calibration, "toy")
        files[mode_id] = path
    return files, weights


def test_every_ort_mode_meets_its_own_contract(built):
    files, _ = built
    for mode_id, path in files.items():
        assert contracts.check_artifact(path, modes.get(mode_id)) == [], mode_id


def test_the_float_graph_in_place_of_int8_breaks_the_contract_by_name(built):
    files, _ = built
    problems = "\n".join(contracts.check_artifact(files[modes.ORT_FLOAT], modes.get("ort-int8")))
    assert "2 of 2 covered ops break 'weights must be int8'" in problems
    assert "Conv (" in problems and "MatMul (" in problems and "activations must be int8" in problems


@pytest.mark.parametrize("impostor, mode_id, rule", [
    ("ort-int8", "ort-int8-qoperator", "activations must be uint8"),  # QDQ int8 where QLinear uint8 was promised
    ("ort-int8-qoperator", "ort-int8", "activations must be int8"),
    ("ort-dynamic-int8", "ort-int8", "activations must be int8"),  # run-time quantized: float between ops
])
def test_a_weaker_or_other_scheme_breaks_the_contract(built, impostor, mode_id, rule):
    files, _ = built
    problems = contracts.check_artifact(files[impostor], modes.get(mode_id))
    assert any(rule in p for p in problems), problems


def test_per_tensor_weights_break_a_per_channel_contract(built, tmp_path):
    from onnxruntime import quantization as q

    files, _ = built
    path = tmp_path / "per-tensor.onnx"
    calibration = np.random.default_rng(1).uniform(0, 1, (8, 1, 6, 6)).astype(np.float32)

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.items = iter(calibration)

        def get_next(self):
            sample = next(self.items, None)
            return None if sample is None else {"x": sample[None]}

    q.quantize_static(files[modes.ORT_FLOAT], path, Reader(), quant_format=q.QuantFormat.QDQ, per_channel=False,
                      activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8)
    problems = contracts.check_artifact(path, modes.get("ort-int8"))
    assert len(problems) == 1 and "weights must be per-channel" in problems[0] and "per-tensor" in problems[0]


def test_shortened_names_keep_inputs_outputs_and_results(built):
    files, weights = built
    graph = onnx.load(str(files[modes.ORT_FLOAT])).graph
    assert [v.name for v in graph.input] == ["x"] and [v.name for v in graph.output] == ["y"]
    assert not any(";" in n.name or ";" in o for n in graph.node for o in n.output)
    x = np.random.default_rng(2).uniform(0, 1, (5, 1, 6, 6)).astype(np.float32)
    with runtime.open_runner(files[modes.ORT_FLOAT], runtime.get("ort-cpu")) as runner:
        got = np.concatenate(runner.map_batches(x, lambda raws: raws[0].copy(), batch_size=2))
    np.testing.assert_allclose(got, _reference(x, *weights), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode_id", QUANTIZED)
def test_the_ort_runner_runs_each_mode_on_a_prebound_input(built, mode_id):
    files, weights = built
    x = np.random.default_rng(3).uniform(0, 1, (1, 1, 6, 6)).astype(np.float32)
    with runtime.open_runner(files[mode_id], runtime.get("ort-cpu")) as runner:
        assert runner.inputs[0].shape == (1, 6, 6) and runner.outputs[0].shape == (3,)
        runner.set_input(x)
        runner.invoke()
        first = runner.raw_output()
        runner.invoke()  # the same bound input again: the same result, into the same arrays
        assert np.array_equal(runner.raw_output(), first)
        assert runner.backend["providers"] == ["CPUExecutionProvider"] and runner.backend["threads"] == 1
        saturating = runner.backend["int8_accumulation"] == "int16-saturating"
    want = _reference(x, *weights)
    # 8-bit: close, not equal. ORT's U8S8 kernels on an x86_64 CPU without VNNI add pairs of uint8 x int8 products
    # in int16 with saturation (vpmaddubsw; ORT's quantization docs), which cost this toy graph 8.8 % of its largest
    # output on an AVX2-only AMD EPYC and under 5 % with VNNI: the bound follows the CPU.
    assert np.max(np.abs(first - want)) <= (0.15 if saturating else 0.05) * np.max(np.abs(want)), machine.isa_flags()


def test_a_runtime_skips_a_file_format_it_does_not_load(built):
    files, _ = built
    with pytest.raises(NotApplicable, match=r"is a \.onnx file; xnnpack runs interpreter, which loads \.tflite"):
        runtime.check_format(modes.get("ort-int8"), runtime.get("xnnpack"), "toy ort-int8")
    with pytest.raises(NotApplicable, match=r"is a \.tflite file; ort-cpu runs onnxruntime, which loads \.onnx"):
        runtime.check_format(modes.get("int8"), runtime.get("ort-cpu"), "toy int8")
    runtime.check_format(modes.get("ort-int8"), runtime.get("ort-cpu-mt"), "toy ort-int8")  # no error


def test_an_execution_provider_onnxruntime_lacks_skips_with_the_providers_it_has(built):
    import onnxruntime

    files, _ = built
    if "XnnpackExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime build has the XNNPACK execution provider")
    with pytest.raises(NotApplicable, match="XnnpackExecutionProvider.*offers.*CPUExecutionProvider"):
        runtime.open_runner(files[modes.ORT_FLOAT], runtime.get("ort-xnnpack"))


def test_every_ort_device_names_a_litert_peer_on_the_same_threads():
    for device in runtime.DEVICES.values():
        if device.runtime == "onnxruntime":
            peer = runtime.get(device.peer)
            assert peer.runtime == "interpreter" and peer.threads == device.threads, device.id


@pytest.mark.parametrize("arch, flags, accumulation", [
    ("x86_64", ["avx2", "fma"], "int16-saturating"),  # vpmaddubsw: pairs of uint8 x int8 products in int16
    ("x86_64", ["avx2", "avx512_vnni"], "int32"),
    ("x86_64", ["avx2", "avx_vnni"], "int32"),
    ("aarch64", ["asimd"], "int32"),
])
def test_the_runner_names_how_int8_products_accumulate(arch, flags, accumulation):
    from qbench.runtime.onnxruntime import int8_accumulation

    assert int8_accumulation(arch, flags) == accumulation

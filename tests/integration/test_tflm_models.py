"""The ``tflm`` device on the built-in models: what TFLM runs, what it refuses, its arena, and how its outputs compare
with LiteRT's ``reference`` kernels (both run reference kernels; the tolerances below are measured and explained).

Measured on MNIST's 10,000 test digits (tflite-micro 0.dev20261023182759 vs ai-edge-litert 2.3.0, one sample per call):
float32 is bit for bit the same. Every static integer mode differs from ``reference`` in a few outputs by one
quantization step (int8 30 of 10,000 digits, aeq-int8 44, int16x8 5,488, aeq-int16x8 7,783), never in the top-1
class; every difference starts at the FULLY_CONNECTED layer (all convolutions and pools agree): TFLM requantizes its
per-channel int8 accumulators the gemmlowp way (``SaturatingRoundingDoublingHighMul`` then ``RoundingDivideByPOT``,
as ``qbench.quantize`` does and both runtimes' convolutions do), LiteRT's reference FULLY_CONNECTED with one rounding
(``(acc * multiplier + 2^(n-1)) >> n``); the two differ by one step when a value lands within rounding of a half step.
``test_the_integer_difference_is_the_fully_connected_rounding`` recomputes that layer both ways.

aeq-weight-int8 (int8 weights behind DEQUANTIZE, float compute) would run and compute other numbers: TFLM's DEQUANTIZE
applies the first channel's scale to every channel of a per-channel weight (its outputs equal ``q * scale[0]``), so
accuracy collapses (65 % on the first 1,000 digits); the tflm runner refuses such files (a skip naming the tensors),
and the test below re-measures the reason on TFLM itself.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from paths import BENCHMARKS
from qbench import runtime
from qbench.errors import NotApplicable
from qbench.quantize import multiply_by_quantized_multiplier, quantize_multiplier
from qbench.runtime import tflm

pytestmark = pytest.mark.skipif(tflm.unavailable_reason() is not None, reason=str(tflm.unavailable_reason()))

MODEL, SAMPLES = "mnist_cnn", 300
EXACT = ["float32"]
ONE_STEP = ["int8", "int8-float-io", "int16x8", "aeq-int8", "aeq-int8-float-io", "aeq-int16x8"]
REFUSED = {"dynamic": "Input type: FLOAT32 with filter type: INT8 not supported",
           "float16": "DEQUANTIZE (number 0) failed to prepare",
           "aeq-dynamic-int8": "Hybrid models are not supported on TFLite Micro"}


def _raw(runner, x):
    return np.concatenate(runner.map_batches(x, lambda raws: raws[0].copy(), batch_size=1))


def _pair(qbench, mode):
    x = qbench.artifacts.eval_set(MODEL).x[:SAMPLES]
    micro = qbench.evaluator.runner(MODEL, mode, "tflm")
    reference = qbench.evaluator.runner(MODEL, mode, "reference")
    assert micro.inputs == reference.inputs and micro.outputs == reference.outputs
    return _raw(micro, x), _raw(reference, x)


def _output_step(path) -> float:
    """One quantization step of output 0: its own scale, or for a float output the scale of the integer tensor its
    DEQUANTIZE reads (1 for an integer output, whose raw values are compared)."""
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0).subgraphs[0]
    out = graph.outputs[0]
    if graph.tensors[out].type != schema.TensorType.FLOAT32:
        return 1.0
    producer = next(op for op in graph.operators if out in op.outputs)
    return float(graph.tensors[producer.inputs[0]].quantization.scale[0])


@pytest.mark.parametrize("mode", EXACT)
def test_float32_equals_reference_bit_for_bit(qbench, mode):
    got, want = _pair(qbench, mode)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("mode", ONE_STEP)
def test_integer_modes_are_within_one_step_of_reference_and_agree_on_every_class(qbench, mode):
    got, want = _pair(qbench, mode)
    step = _output_step(qbench.artifacts.tflite(MODEL, mode).path)
    slack = 2 * float(np.spacing(np.abs(want).max())) if want.dtype.kind == "f" else 0.0  # float32 outputs' rounding
    assert np.abs(got.astype(np.float64) - want.astype(np.float64)).max() <= step + slack
    assert np.array_equal(got.argmax(axis=1), want.argmax(axis=1))


def test_the_integer_difference_is_the_fully_connected_rounding(qbench):
    """On int8 digits where TFLM and reference disagree, recompute the FULLY_CONNECTED layer from its input (on which
    they agree): TFLM's outputs are the double rounding of ``qbench.quantize``, reference's the single rounding."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.python.tflite_micro import runtime as micro_runtime

    path = qbench.artifacts.tflite(MODEL, "int8").path
    x = qbench.artifacts.eval_set(MODEL).x[:2000]
    preserving = micro_runtime.InterpreterConfig.kPreserveAllTensors
    micro = micro_runtime.Interpreter.from_file(str(path), arena_size=1 << 22, intrepreter_config=preserving)
    probe = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                        experimental_preserve_all_tensors=True)
    probe.allocate_tensors()
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    graph = model.subgraphs[0]
    (fc,) = [op for op in graph.operators
             if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.FULLY_CONNECTED]
    t_in, t_w, t_b = (graph.tensors[i] for i in fc.inputs)
    t_out = graph.tensors[fc.outputs[0]]
    w = np.frombuffer(bytes(model.buffers[t_w.buffer].data), np.int8).reshape(t_w.shape).astype(np.int64)
    b = np.frombuffer(bytes(model.buffers[t_b.buffer].data), np.int32).astype(np.int64)
    s_in, z_in = np.float32(t_in.quantization.scale[0]), t_in.quantization.zeroPoint[0]
    s_out, z_out = np.float32(t_out.quantization.scale[0]), t_out.quantization.zeroPoint[0]
    multipliers = [quantize_multiplier(float(s_in) * float(s) / float(s_out))
                   for s in np.asarray(t_w.quantization.scale, np.float32)]
    detail = probe.get_input_details()[0]
    to_model = qbench.evaluator.runner(MODEL, "int8", "reference")._model_input

    def tensor(index):
        found = micro.GetTensor(int(index), 0)
        return np.asarray(found["tensor_data"] if isinstance(found, dict) else found)

    differing = 0
    for k in range(len(x)):
        sample = to_model(x[k:k + 1])
        probe.set_tensor(detail["index"], sample)
        probe.invoke()
        micro.set_input(sample, 0)
        micro.invoke()
        fc_input = probe.get_tensor(fc.inputs[0])
        assert np.array_equal(tensor(fc.inputs[0]).reshape(fc_input.shape), fc_input), k  # agree up to the layer
        got, want = tensor(fc.outputs[0]).reshape(-1), probe.get_tensor(fc.outputs[0]).reshape(-1)
        if np.array_equal(got, want):
            continue
        differing += 1
        acc = (fc_input.reshape(1, -1).astype(np.int64) - z_in) @ w.T + b
        double = np.array([multiply_by_quantized_multiplier(acc[:, c].astype(np.int32), q, s)[0]
                           for c, (q, s) in enumerate(multipliers)]) + z_out
        single = np.array([(acc[0, c] * q + (1 << (30 - s))) >> (31 - s) for c, (q, s) in enumerate(multipliers)]) + z_out
        assert np.array_equal(np.clip(double, -128, 127), got), k
        assert np.array_equal(np.clip(single, -128, 127), want), k
    assert differing >= 1  # measured: 5 of the first 2,000 digits; none would leave this test proving nothing


def test_weight_only_int8_skips_because_tflms_dequantize_uses_the_first_channels_scale_only(qbench):
    """The refusal's reason, measured afresh on TFLM itself: if a TFLM release fixes DEQUANTIZE, this fails, and the
    tflm runner's refusal (``per_channel_dequantize``) should go."""
    from tflite_micro.python.tflite_micro import runtime as micro_runtime

    with pytest.raises(NotApplicable, match="applies the first channel's scale to every channel"):
        qbench.evaluator.runner(MODEL, "aeq-weight-int8", "tflm")
    path = qbench.artifacts.tflite(MODEL, "aeq-weight-int8").path
    reference = qbench.evaluator.runner(MODEL, "aeq-weight-int8", "reference")
    micro = micro_runtime.Interpreter.from_file(str(path), arena_size=1 << 22)
    x = qbench.artifacts.eval_set(MODEL).x[:200]
    micro_top1 = []
    for k in range(len(x)):
        micro.set_input(x[k:k + 1].astype(np.float32), 0)
        micro.invoke()
        micro_top1.append(int(np.argmax(micro.get_output(0))))
    want = _raw(reference, x).argmax(axis=1)
    assert (np.array(micro_top1) != want).mean() > 0.1  # measured: 34 % of the first 1,000 digits change class


@pytest.mark.parametrize("mode, words", REFUSED.items())
def test_what_tflm_has_no_kernels_for_skips_with_its_own_words(qbench, mode, words):
    with pytest.raises(NotApplicable) as exc:
        qbench.evaluator.runner(MODEL, mode, "tflm")
    assert f"refuses {MODEL} {mode}: TFLM does not load it: " in exc.value.problem and words in exc.value.problem


def test_mnist_int8s_arena_is_the_real_minimum(qbench):
    path = qbench.artifacts.tflite(MODEL, "int8").path
    with runtime.open_runner(path, runtime.get("tflm")) as runner:
        arena = runner.footprint()["arena_bytes"]
    code = ("import sys; from tflite_micro.python.tflite_micro import runtime\n"
            "try: runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))\n"
            "except RuntimeError: sys.exit(3)\n")
    results = [subprocess.run([sys.executable, "-c", code, str(path), str(n)], capture_output=True).returncode
               for n in (arena, arena - 1)]
    assert results == [0, 3]


def test_the_benchmarks_on_tflm_record_footprints_and_skip_what_tflm_refuses(pytester, qbench, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    for mode in ("float32", "int8", "dynamic"):
        qbench.artifacts.tflite(MODEL, mode)
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    for name in ("test_latency.py", "test_quality.py"):
        pytester.copy_example(str(BENCHMARKS / name))
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(
        f"--qbench-cache={qbench.cache.root}", "-p", "no:cacheprovider", "--qbench-models", MODEL,
        "--qbench-modes=float32,int8,dynamic", "--qbench-devices=tflm", "--qbench-eval-limit=200",
        "--benchmark-max-time=0.01", "--benchmark-min-rounds=3", f"--benchmark-json={out}", "-rs", "-k", "not scenes")
    result.assert_outcomes(passed=4, skipped=2)  # the session goes on past the refused mode
    result.stdout.fnmatch_lines(["*latency host-only*", "*smallest within budget that fits*Cortex-M0+: int8 (*",
                                 "SKIPPED *tflm * refuses mnist_cnn dynamic: TFLM does not load it: *INT8 not supported*"])
    infos = {b["extra_info"]["mode"]: b["extra_info"] for b in json.loads(out.read_text())["benchmarks"]}
    assert infos["int8"]["footprint"]["arena_bytes"] < infos["float32"]["footprint"]["arena_bytes"]
    assert infos["int8"]["footprint"]["flash_bytes"] == infos["int8"]["model_bytes"]
    assert infos["int8"]["backend"]["runtime"] == "tflm" and infos["int8"]["latency_note"].startswith("host-only")
    assert infos["int8"]["versions"]["tflite-micro"] == tflm.version()


def test_a_bundle_carries_what_tflm_needs(qbench, tmp_path):
    """The run stage from a bundle (no cache, no TensorFlow) runs tflm as the build machine does: the bundle pins the
    tflite-micro wheel in its run requirements and the same file gives the same footprint and quality."""
    from qbench import config
    from qbench.bundle import MANIFEST, open_bundle, write_bundle

    bundle = write_bundle(qbench, [MODEL], ["int8"], tmp_path / "bundle")
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert f"tflite-micro=={tflm.version()}" in manifest["run_requirements"]
    assert manifest["tool_versions"]["run"]["tflite-micro"] == tflm.version()
    session = open_bundle(bundle, config.parse(lambda option: {"eval_limit": 300}.get(option.dest)))
    with session.evaluator.runner(MODEL, "int8", "tflm") as there, qbench.evaluator.runner(MODEL, "int8", "tflm") as here:
        assert there.footprint() == here.footprint()
    x = qbench.artifacts.eval_set(MODEL).x[:300]
    assert np.array_equal(_raw(session.evaluator.runner(MODEL, "int8", "tflm"), x),
                          _raw(qbench.evaluator.runner(MODEL, "int8", "tflm"), x))

"""The Runner on real converted models: I/O quantization, batching, backends, and bad models."""

import gc
import os

import numpy as np
import psutil
import pytest

import tflite_ops
from qbench import runtime
from qbench.errors import QbenchError
from qbench.measure import evaluate
from qbench.quantize import QuantParams, quantize
from qbench.workspace import Workspace

MODEL = "mnist_cnn"


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: np.random.default_rng(0).bytes(len(b)), lambda b: b""],
    ids=["truncated", "random", "empty"],
)
def test_broken_tflite_is_one_clear_error(qbench, tmp_path, damage):
    path = tmp_path / "broken.tflite"
    path.write_bytes(damage(qbench.tflite(MODEL, "int8").path.read_bytes()))
    with pytest.raises(QbenchError, match="not a loadable TFLite model") as exc:
        runtime.Runner(path, runtime.get("builtin"))
    assert "rebuild" in exc.value.fix


def test_input_shape_mismatch_names_both_shapes(qbench):
    runner = qbench.runner(MODEL, "float32", "xnnpack")
    with pytest.raises(QbenchError, match=r"expects inputs of shape \[28, 28\].*has \[32, 32\]"):
        runner.set_input(np.zeros((1, 32, 32), np.float32))


def test_unknown_device_lists_the_valid_ones():
    with pytest.raises(QbenchError, match="unknown device 'gpu'") as exc:
        runtime.get("gpu")
    assert "xnnpack" in exc.value.fix and "reference" in exc.value.fix


def test_uint8_io_model_is_fed_and_read_in_real_units(qbench):
    data = qbench.eval_set(MODEL)
    int8 = qbench.runner(MODEL, "int8", "builtin")
    assert int8.input_q.dtype == "uint8" and int8.output_q.dtype == "uint8"
    ref = qbench.runner(MODEL, "float32", "builtin")
    for runner in (int8, ref):
        runner.set_input(data.x[:200])
        runner.invoke()
    agree = np.mean(int8.output().argmax(1) == ref.output().argmax(1))
    assert agree >= 0.98
    # dequantized logits sit within a couple of output steps of float32 (raw uint8 would be off by ~100)
    assert np.median(np.abs(int8.output() - ref.output())) <= 2 * int8.output_q.scale


def test_backend_reports_what_ran(qbench):
    assert qbench.runner(MODEL, "float32", "xnnpack").backend["delegate_partitions"] > 0
    builtin = qbench.runner(MODEL, "float32", "builtin").backend
    assert builtin["delegate_partitions"] == 0 and builtin["kernels"] == "builtin"
    assert qbench.runner(MODEL, "float32", "xnnpack-mt").backend["threads"] == os.cpu_count()  # README: all cores


def test_the_reference_device_runs_tflites_reference_kernels(tmp_path):
    """``reference`` is labelled from its resolver name; check the kernels themselves. TFLite's reference
    QUANTIZE divides in float32 (0.25 / 0.1f is exactly 2.5, rounded away to 3), the optimized one does not
    (2.4999999627 -> 2): a one-op model tells the two apart."""
    params = QuantParams(float(np.float32(0.1)), 0, "int8")
    path = tflite_ops.write(tmp_path / "quantize.tflite", tflite_ops.quantize_model(1, params))
    x = np.array([0.25], np.float32)
    outputs = {}
    for device in ("reference", "builtin"):
        runner = runtime.Runner(path, runtime.get(device))
        runner.set_input(x)
        runner.invoke()
        outputs[device] = runner.raw_output().tolist()
        assert runner.backend["kernels"] == device and runner.backend["delegate_partitions"] == 0
    assert outputs == {"reference": quantize(x, params).tolist(), "builtin": [2]}
    assert outputs["reference"] == [3]


def _threads_started_by(make_runner) -> int:
    """OS threads a new Runner (and its first invoke) adds to this process: XNNPACK's pool of n - 1 workers."""
    gc.collect()  # a Runner another test dropped must not stop its workers in the middle of the count
    gc.disable()
    try:
        before = psutil.Process().num_threads()
        runner = make_runner()
        runner.invoke()
        return psutil.Process().num_threads() - before
    finally:
        gc.enable()


@pytest.mark.parametrize("device", list(runtime.DEVICES))
def test_devices_run_with_the_threads_they_report(qbench, device):
    """``threads`` in the results is what the interpreter really runs with, not just what it was asked for."""
    runner = qbench.runner(MODEL, "float32", device)
    started = _threads_started_by(lambda: qbench.runner(MODEL, "float32", device))
    assert started == runner.backend["threads"] - 1


@pytest.mark.parametrize("mode, device", [("float32", "xnnpack-mt"), ("int8", "builtin")])
def test_evaluation_is_repeatable_and_batch_independent(qbench, mode, device):
    data, task = qbench.eval_set(MODEL), qbench.task(MODEL)
    runs = [evaluate(qbench.runner(MODEL, mode, device), data, task, batch).result for batch in (250, 250, 1000)]
    assert len({r["predictions_sha256"] for r in runs}) == 1
    assert len({r["outputs_xxh3_128"] for r in runs}) == 1  # outputs read in place are never stale
    assert runs[0]["accuracy"] == runs[1]["accuracy"] == runs[2]["accuracy"]


@pytest.mark.parametrize("first, second", [("xnnpack", "builtin"), ("builtin", "xnnpack")])
def test_devices_running_the_same_kernels_share_one_evaluation(qbench, first, second):
    """XNNPACK takes no int16x8 op, so ``xnnpack`` runs the built-in kernels with 1 thread, like ``builtin``:
    the device evaluated first does the work and the other reuses it. A fresh workspace (the session's may
    have evaluated either already) makes that order known."""
    ws = Workspace(qbench.cache, qbench.settings)
    ws.eval_limit = 500
    assert ws.runner(MODEL, "int16x8", "xnnpack").backend["delegate_partitions"] == 0
    done, reused = ws.evaluate(MODEL, "int16x8", first), ws.evaluate(MODEL, "int16x8", second)
    assert reused is done and done["eval_device"] == first
    mt = ws.evaluate(MODEL, "int16x8", "xnnpack-mt")  # more threads, other kernels: its own evaluation
    assert mt["eval_device"] == ("xnnpack-mt" if runtime.get("xnnpack-mt").num_threads > 1 else first)
    float_runs = [ws.evaluate(MODEL, "float32", d) for d in (first, second)]
    assert [r["eval_device"] for r in float_runs] == [first, second]  # XNNPACK vs built-in kernels

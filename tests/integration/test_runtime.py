"""The Runner on real converted models: I/O quantization, batching, backends, and bad models."""

import gc
import os

import numpy as np
import psutil
import pytest

import tflite_ops
from qbench import runtime
from qbench.errors import NotApplicable, QbenchError
from qbench.measure import evaluate
from qbench.quantize import QuantParams, quantize
from qbench.pipeline import open_session

import tiny_tflite

MODEL = "mnist_cnn"


@pytest.mark.parametrize("device", ["builtin", "cm-builtin"])
@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: np.random.default_rng(0).bytes(len(b)), lambda b: b""],
    ids=["truncated", "random", "empty"],
)
def test_broken_tflite_is_one_clear_error(qbench, tmp_path, damage, device):
    """Also on the CompiledModel, whose loader alone can crash the process on a truncated file."""
    path = tmp_path / "broken.tflite"
    path.write_bytes(damage(qbench.artifacts.tflite(MODEL, "int8").path.read_bytes()))
    with pytest.raises(QbenchError, match="mnist_cnn int8 .* is not a complete TFLite model") as exc:
        runtime.open_runner(path, runtime.get(device), label="mnist_cnn int8")
    assert "rebuild" in exc.value.fix and not isinstance(exc.value, NotApplicable)


def test_model_that_does_not_compile_names_model_mode_device_and_litert_reason(tmp_path):
    path = tmp_path / "custom.tflite"
    path.write_bytes(tiny_tflite.unknown_custom_op())
    with pytest.raises(QbenchError) as exc:
        runtime.open_runner(path, runtime.get("cm-xnnpack"), label="tiny float32")
    assert "tiny float32" in exc.value.problem and exc.value.problem.startswith("cm-xnnpack (")
    assert "LiteRT: Encountered unresolved custom op: QbenchNoSuchOp" in exc.value.problem  # from the captured log
    assert "IntelOpenvino" not in exc.value.problem  # another accelerator's chatter is no reason
    assert "--qbench-devices" in exc.value.fix


@pytest.mark.parametrize("device", ["builtin", "xnnpack", "cm-builtin", "cm-xnnpack"])
def test_every_output_in_subgraph_order_with_its_quantization(tmp_path, device):
    """Two uint8 outputs, listed by the subgraph in the opposite order of its signature."""
    path = tmp_path / "two.tflite"
    path.write_bytes(tiny_tflite.two_outputs())
    runner = runtime.open_runner(path, runtime.get(device))
    assert [o.name for o in runner.outputs] == ["product", "sum"]
    assert [o.quant.scale for o in runner.outputs] == pytest.approx([0.02, 0.1])
    assert [o.quant.zero_point for o in runner.outputs] == [3, 20]
    x = np.array([[0.5, 1.0, 2.0, 2.2], [0.0, 0.25, 1.5, 0.75]], np.float32)  # x * x within the uint8 range
    parts = runner.map_batches(x, lambda raws: [r.copy() for r in raws], batch_size=2)
    product, total = (np.concatenate([p[i] for p in parts]) for i in range(2))
    np.testing.assert_allclose(total * 0.1 - 2.0, 2 * x, atol=0.1)  # dequantized by hand: S * (q - Z)
    np.testing.assert_allclose(product * 0.02 - 0.06, x * x, atol=0.03)
    runner.set_input(x[:1])
    runner.invoke()
    np.testing.assert_allclose(runner.output(1), 2 * x[:1], atol=0.1)
    assert [r.dtype for r in runner.raw_outputs()] == [np.uint8, np.uint8]


def test_compiled_model_runs_one_sample_per_call(qbench):
    runner = qbench.evaluator.runner(MODEL, "float32", "cm-xnnpack")
    x = qbench.artifacts.eval_set(MODEL).x[:5]
    with pytest.raises(QbenchError, match="one sample per call"):
        runner.set_input(x[:2])
    assert len(runner.map_batches(x, lambda raws: raws[0].argmax(-1), batch_size=256)) == 5


@pytest.mark.parametrize("device", ["cm-gpu", "cm-npu"])
def test_accelerator_devices_run_or_say_why_not(qbench, device):
    """Where LiteRT finds the accelerator the model runs on it; elsewhere (here) LiteRT's reason, no failure."""
    try:
        runner = qbench.evaluator.runner(MODEL, "float32", device)
    except runtime.DeviceUnavailable as exc:
        accelerator = device.removeprefix("cm-").upper()
        assert exc.problem.startswith(f"device '{device}': LiteRT finds no usable {accelerator} here: ")
        assert len(exc.problem.split(": ", 2)[2]) > 10  # LiteRT's own words follow
    else:
        runner.set_input(qbench.artifacts.eval_set(MODEL).x[:1])
        runner.invoke()
        assert runner.backend["accelerator"] == runtime.get(device).accelerator


def test_a_compiled_model_runtime_that_crashes_the_process_is_a_skip_with_litert_words(tmp_path, monkeypatch):
    """ai-edge-litert 2.3.0's CompiledModel dies of SIGILL on a Cortex-A72 (no LSE atomics): the probe runs in a
    child process, so the crash becomes the reason. Here a stand-in for Python crashes the same way."""
    import sys

    from qbench.runtime import accelerators

    crasher = tmp_path / "python"
    crasher.write_text("#!/bin/sh\necho 'FATAL ERROR: This binary was compiled with lse enabled, but this feature "
                       "is not available on this processor (go/sigill-fail-fast).' >&2\nkill -ILL $$\n")
    crasher.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(crasher))
    accelerators.unavailable_reason.cache_clear()
    try:
        with pytest.raises(runtime.DeviceUnavailable) as exc:
            accelerators.require("cpu", "cm-xnnpack")
    finally:
        accelerators.unavailable_reason.cache_clear()  # the real probe answers for the rest of the session
    assert exc.value.problem == (
        "device 'cm-xnnpack': LiteRT's CompiledModel cannot run here: a process loading LiteRT's CompiledModel died "
        "of SIGILL: This binary was compiled with lse enabled, but this feature is not available on this processor "
        "(go/sigill-fail-fast)")


def test_litert_log_stays_off_the_terminal_unless_asked(qbench, capfd, monkeypatch):
    from qbench import chatter, progress

    qbench.evaluator.runner(MODEL, "int8", "cm-xnnpack")
    assert "INFO" not in capfd.readouterr().err
    shown = []
    monkeypatch.setattr(chatter, "_show", True)
    monkeypatch.setattr(progress, "_sink", shown.append)
    qbench.evaluator.runner(MODEL, "int8", "cm-xnnpack")
    assert "INFO" not in capfd.readouterr().err
    assert len(shown) == 1 and "LiteRT log, mnist_cnn-int8.tflite on cm-xnnpack" in shown[0] and "INFO" in shown[0]


def test_input_shape_mismatch_names_both_shapes(qbench):
    runner = qbench.evaluator.runner(MODEL, "float32", "xnnpack")
    with pytest.raises(QbenchError, match=r"expects inputs of shape \[28, 28\].*has \[32, 32\]"):
        runner.set_input(np.zeros((1, 32, 32), np.float32))


def test_unknown_device_lists_the_valid_ones():
    with pytest.raises(QbenchError, match="unknown device 'gpu'") as exc:
        runtime.get("gpu")
    assert "xnnpack" in exc.value.fix and "reference" in exc.value.fix


def test_uint8_io_model_is_fed_and_read_in_real_units(qbench):
    data = qbench.artifacts.eval_set(MODEL)
    int8 = qbench.evaluator.runner(MODEL, "int8", "builtin")
    assert int8.inputs[0].quant.dtype == "uint8" and int8.outputs[0].quant.dtype == "uint8"
    ref = qbench.evaluator.runner(MODEL, "float32", "builtin")
    for runner in (int8, ref):
        runner.set_input(data.x[:200])
        runner.invoke()
    agree = np.mean(int8.output().argmax(1) == ref.output().argmax(1))
    assert agree >= 0.98
    # dequantized logits sit within a couple of output steps of float32 (raw uint8 would be off by ~100)
    assert np.median(np.abs(int8.output() - ref.output())) <= 2 * int8.outputs[0].quant.scale


def test_backend_reports_what_ran(qbench):
    assert qbench.evaluator.runner(MODEL, "float32", "xnnpack").backend["delegate_partitions"] > 0
    builtin = qbench.evaluator.runner(MODEL, "float32", "builtin").backend
    assert builtin["delegate_partitions"] == 0 and builtin["kernels"] == "builtin"
    assert qbench.evaluator.runner(MODEL, "float32", "xnnpack-mt").backend["threads"] == os.cpu_count()  # README: all cores
    cm = qbench.evaluator.runner(MODEL, "int16x8", "cm-xnnpack").backend  # XNNPACK takes no int16x8 op here either
    assert cm["runtime"] == "compiled_model" and cm["kernel_mode"] == "XNNPACK" and cm["kernels"] == "builtin"
    assert cm["fully_accelerated"] is False  # the dynamic-batch Flatten's SHAPE/PACK ops stay on the CPU kernels



def test_the_reference_device_runs_tflites_reference_kernels(tmp_path):
    """``reference`` is labelled from its resolver name; check the kernels themselves. TFLite's reference
    QUANTIZE divides in float32 (0.25 / 0.1f is exactly 2.5, rounded away to 3), the optimized one does not
    (2.4999999627 -> 2): a one-op model tells the two apart."""
    params = QuantParams(float(np.float32(0.1)), 0, "int8")
    path = tflite_ops.write(tmp_path / "quantize.tflite", tflite_ops.quantize_model(1, params))
    x = np.array([0.25], np.float32)
    outputs = {}
    for device in ("reference", "builtin"):
        runner = runtime.open_runner(path, runtime.get(device))
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


@pytest.mark.parametrize("device", [d for d, device in runtime.DEVICES.items() if device.runtime == "interpreter"])
def test_devices_run_with_the_threads_they_report(qbench, device):
    """``threads`` in the results is what the interpreter really runs with, not just what it was asked for."""
    runner = qbench.evaluator.runner(MODEL, "float32", device)
    started = _threads_started_by(lambda: qbench.evaluator.runner(MODEL, "float32", device))
    assert started == runner.backend["threads"] - 1


@pytest.mark.parametrize("mode, device", [("float32", "xnnpack-mt"), ("int8", "builtin")])
def test_evaluation_is_repeatable_and_batch_independent(qbench, mode, device):
    data, task = qbench.artifacts.eval_set(MODEL), qbench.evaluator.task(MODEL)
    runs = [evaluate(qbench.evaluator.runner(MODEL, mode, device), data, task, batch).result for batch in (250, 250, 1000)]
    assert len({r["predictions_sha256"] for r in runs}) == 1
    assert len({r["outputs_xxh3_128"] for r in runs}) == 1  # outputs read in place are never stale
    assert runs[0]["accuracy"] == runs[1]["accuracy"] == runs[2]["accuracy"]


@pytest.mark.parametrize("first, second", [("xnnpack", "builtin"), ("builtin", "xnnpack")])
def test_devices_running_the_same_kernels_share_one_evaluation(qbench, first, second):
    """XNNPACK takes no int16x8 op, so ``xnnpack`` runs the built-in kernels with 1 thread, like ``builtin``:
    the device evaluated first does the work and the other reuses it. A fresh session (the plugin's may
    have evaluated either already) makes that order known."""
    evaluator = open_session(qbench.settings.replace(eval_limit=500)).evaluator
    assert evaluator.runner(MODEL, "int16x8", "xnnpack").backend["delegate_partitions"] == 0
    done, reused = evaluator.result(MODEL, "int16x8", first), evaluator.result(MODEL, "int16x8", second)
    assert reused is done and done["eval_device"] == first
    mt = evaluator.result(MODEL, "int16x8", "xnnpack-mt")  # more threads, other kernels: its own evaluation
    assert mt["eval_device"] == ("xnnpack-mt" if runtime.get("xnnpack-mt").num_threads > 1 else first)
    float_runs = [evaluator.result(MODEL, "float32", d) for d in (first, second)]
    assert [r["eval_device"] for r in float_runs] == [first, second]  # XNNPACK vs built-in kernels

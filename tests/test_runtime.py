"""The Runner on real converted models: I/O quantization, batching, backends, and bad models."""

import numpy as np
import pytest

from qbench import runtime
from qbench.errors import QbenchError
from qbench.measure import evaluate

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
        runtime.open_runner(path, runtime.get("builtin"))
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
    assert int8.inputs[0].quant.dtype == "uint8" and int8.outputs[0].quant.dtype == "uint8"
    ref = qbench.runner(MODEL, "float32", "builtin")
    for runner in (int8, ref):
        runner.set_input(data.x[:200])
        runner.invoke()
    agree = np.mean(int8.output().argmax(1) == ref.output().argmax(1))
    assert agree >= 0.98
    # dequantized logits sit within a couple of output steps of float32 (raw uint8 would be off by ~100)
    assert np.median(np.abs(int8.output() - ref.output())) <= 2 * int8.outputs[0].quant.scale


def test_backend_reports_what_ran(qbench):
    assert qbench.runner(MODEL, "float32", "xnnpack").backend["delegate_partitions"] > 0
    builtin = qbench.runner(MODEL, "float32", "builtin").backend
    assert builtin["delegate_partitions"] == 0 and builtin["kernels"] == "builtin"
    assert qbench.runner(MODEL, "float32", "xnnpack-mt").backend["threads"] == runtime.get("xnnpack-mt").num_threads


@pytest.mark.parametrize("mode, device", [("float32", "xnnpack-mt"), ("int8", "builtin")])
def test_evaluation_is_repeatable_and_batch_independent(qbench, mode, device):
    data, task = qbench.eval_set(MODEL), qbench.model(MODEL).task
    runs = [evaluate(qbench.runner(MODEL, mode, device), data, task, batch) for batch in (250, 250, 1000)]
    assert len({r["predictions_sha256"] for r in runs}) == 1
    assert len({r["outputs_xxh3_128"] for r in runs}) == 1  # outputs read in place are never stale
    assert runs[0]["accuracy"] == runs[1]["accuracy"] == runs[2]["accuracy"]


def test_devices_running_the_same_kernels_share_one_evaluation(qbench):
    """XNNPACK takes no int16x8 op, so ``xnnpack`` runs the built-in kernels with 1 thread, like ``builtin``."""
    on_xnnpack, on_builtin = (qbench.evaluate(MODEL, "int16x8", d) for d in ("xnnpack", "builtin"))
    assert qbench.runner(MODEL, "int16x8", "xnnpack").backend["delegate_partitions"] == 0
    assert on_xnnpack is on_builtin and on_builtin["eval_device"] in ("xnnpack", "builtin")
    if qbench.runner(MODEL, "int16x8", "xnnpack-mt").backend["threads"] > 1:  # 1 on a single-core machine
        assert qbench.evaluate(MODEL, "int16x8", "xnnpack-mt")["eval_device"] == "xnnpack-mt"
    float_runs = [qbench.evaluate(MODEL, "float32", d) for d in ("xnnpack", "builtin")]
    assert [r["eval_device"] for r in float_runs] == ["xnnpack", "builtin"]  # XNNPACK vs built-in kernels

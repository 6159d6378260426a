"""ONNX Runtime beside LiteRT on the real models: float32 agreement between the frameworks, what the ORT route does
with a model it cannot convert and with a damaged cache entry, and a bundle running the ORT modes without TensorFlow.

Uses the shared cache's artifacts (MNIST's, and the scenes model's float32) and small models made here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qbench import modes
from qbench.bundle import write_bundle
from qbench.cache import sha256_file
from qbench.errors import NotApplicable
from qbench.models.imported import parse_model_option
from qbench.pipeline.session import open_session

from paths import BENCHMARKS, REPO

import tiny_tflite

MODEL = "mnist_cnn"
ORT_MODES = [m for m, mode in modes.MODES.items() if mode.backend == "ort"]
#: ORT float32 vs LiteRT float32 (XNNPACK, one thread): the largest output difference over the sample, relative to
#: the largest output magnitude. Both compute in float32 with their own kernels (MLAS vs XNNPACK: other summation
#: orders, other conv algorithms). Measured on this x86_64 machine: 6.6e-7 (MNIST, 300 digits), 7.3e-7 (scenes,
#: 4 frames; MediaPipe's iris 7.8e-7 and face detector 1.1e-6): ten times the worst of those.
FLOAT_AGREEMENT = 1e-5
SAMPLES = {"mnist_cnn": 300, "deeplab_scenes": 4}


def _outputs(runner, x: np.ndarray) -> list[np.ndarray]:
    parts = runner.map_batches(x, lambda raws: [r.copy() for r in raws], batch_size=1)
    return [np.concatenate([p[i] for p in parts]) for i in range(len(runner.outputs))]


@pytest.mark.parametrize("model", sorted(SAMPLES))  # both built-in models
def test_ort_float32_agrees_with_litert_float32(qbench, model):
    x = qbench.artifacts.eval_set(model).x[:SAMPLES[model]]
    with qbench.evaluator.runner(model, "float32", "xnnpack") as litert, \
            qbench.evaluator.runner(model, "ort-float32", "ort-cpu") as ort:
        assert ort.input_shape == litert.input_shape  # tf2onnx keeps the .tflite's NHWC layout
        got, want = _outputs(ort, x), _outputs(litert, x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype == np.float32
        worst = float(np.max(np.abs(g - w)) / np.max(np.abs(w)))
        assert 0 < worst <= FLOAT_AGREEMENT, f"{model}: ORT vs LiteRT float32 differ by {worst:.2e} of the output range"
        # (0 < : two frameworks' kernels that agreed to the bit would mean one of them did not run)


def test_a_model_tf2onnx_cannot_convert_skips_with_its_message_and_the_verdict_is_cached(tmp_path):
    spec = _user_model(tmp_path, "custom", tiny_tflite.unknown_custom_op(), 4)
    for attempt in range(2):
        start = time.perf_counter()
        artifacts = open_session(cache=str(tmp_path / "cache"), models=[spec]).artifacts
        for mode_id in ORT_MODES:  # the quantized modes start from ort-float32: they skip with its reason
            with pytest.raises(NotApplicable) as exc:
                artifacts.tflite("custom", mode_id)
            assert "tf2onnx cannot convert custom to ONNX: Tensorflow op [y: TFL_QbenchNoSuchOp] is not supported" \
                in exc.value.problem
        if attempt:  # no second conversion: tf2onnx's start alone (TensorFlow's import) takes seconds
            assert time.perf_counter() - start < 2.0


def _user_model(tmp_path: Path, name: str, data: bytes, inputs: int):
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(data)
    np.savez(tmp_path / f"{name}.npz", x=np.random.default_rng(0).normal(size=(32, inputs)).astype(np.float32))
    return parse_model_option(f"{name}={model},dataset=inputs:{tmp_path / f'{name}.npz'}")


def test_a_corrupt_onnx_in_the_cache_is_rebuilt(tmp_path):
    """A small dense model of our own in a private cache (the shared one is never damaged; no TensorFlow
    conversion but tf2onnx's)."""
    spec = _user_model(tmp_path, "dense", tiny_tflite.dense_float(inputs=64), 64)
    first = open_session(cache=str(tmp_path / "cache"), models=[spec]).artifacts.tflite("dense", "ort-int8")
    assert first.path.suffix == ".onnx" and sha256_file(first.path) == first.sha256
    whole = first.path.read_bytes()
    first.path.write_bytes(whole[: len(whole) // 2])  # a truncated file in the cache
    session = open_session(cache=str(tmp_path / "cache"), models=[spec])
    again = session.artifacts.tflite("dense", "ort-int8")
    assert again.bytes == len(whole) and sha256_file(again.path) == again.sha256
    assert session.cache.built == [f"tflite/{again.path.parent.name}"]  # this one rebuilt, ort-float32 reused
    with session.evaluator.runner("dense", "ort-int8", "ort-cpu") as runner:
        runner.set_input(np.ones((1, 64), np.float32))
        runner.invoke()
        assert runner.raw_output().shape == (1, 4)


def test_a_bundle_runs_the_ort_modes_without_tensorflow(qbench, tmp_path):
    bundle = write_bundle(qbench, [MODEL], ORT_MODES, tmp_path / "bundle")
    assert {p.name for p in bundle.glob("*.onnx")} == {f"{MODEL}-{m}.onnx" for m in ORT_MODES}
    blocked = tmp_path / "blocked"  # what the run stage must not import: importing either fails
    for name in ("tensorflow", "tf2onnx"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('the run stage imported {name}')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(BENCHMARKS), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--qbench-bundle", str(bundle), "--qbench-modes", ",".join(ORT_MODES), "--qbench-devices", "ort-cpu",
         "--benchmark-disable", "-k", "not scenes", "--qbench-eval-limit", "500"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # size, contract, quality and latency of each ORT mode (ort-float32 has a contract of its own: float weights)
    assert f"{4 * len(ORT_MODES)} passed" in proc.stdout, proc.stdout[-2000:]
    assert "TensorFlow not imported" in proc.stdout

"""The ``ort`` backend: the float32 .tflite to ONNX (tf2onnx), then ONNX Runtime's own quantizer recipes.

A second framework on the same models, data and gates (thesis outlook: "the same experiments could be done using
those other frameworks"). Every model already has a float32 .tflite, which is all this route needs:

- ``ort-float32``: ``python -m tf2onnx.convert --tflite <float32.tflite> --opset 17`` (tf2onnx imports TensorFlow:
  build stage only; it runs in a child process, so its output and a crash stay there, and a model it cannot
  convert skips with the converter's own last error line). This is the ONNX framework's reference: its other
  modes are judged and timed against it on the same device (``Mode.reference``), as LiteRT's are against float32.
- ``ort-dynamic-int8``: ``quantize_dynamic``, int8 weights, activations quantized to uint8 at run time
  (``DynamicQuantizeLinear`` -> ``ConvInteger`` / ``MatMulInteger``): ORT's counterpart of dynamic range. Asked for
  per-channel weights, ORT 1.32's quantizer gives them to ``MatMulInteger`` only: ``ConvInteger`` gets one scale
  per tensor (seen by the contract on MNIST), so this mode's contract asks int8 weights of any granularity.
- ``ort-int8``: ``quantize_static`` in the QDQ format, int8 activations and int8 per-channel weights (S8S8), MinMax
  calibrated on the model's calibration split: what ORT's documentation recommends as the default, and the
  counterpart of LiteRT's int8-float-io (float input/output, QuantizeLinear first, DequantizeLinear last).
- ``ort-int8-qoperator``: the same calibration in the QOperator format with uint8 activations (U8S8), which
  ORT's documentation recommends for x86-64 CPUs: the graph holds ``QLinearConv`` / ``QLinearMatMul`` /
  ``QLinearAdd`` ops, other kernels than the QDQ graph's fused ones. It is the uint8 vs int8 activation
  comparison as well.

Per-tensor weights are not offered: every LiteRT integer mode quantizes per channel, and per-tensor int8 loses
depthwise convolutions (MobileNet's) outright; the comparison stays like for like. ORT's quantizer needs
``onnxruntime`` and ``onnx`` only (both in the run stage). A recipe ORT refuses, or a model it quantizes into
a graph ONNX Runtime cannot load, is NotApplicable with ORT's reason, cached like an artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from qbench.cache import code_digest
from qbench.errors import NotApplicable, QbenchError
from qbench.modes import ORT_FLOAT, Mode
from qbench.quantizers.base import BACKENDS, REFERENCE_MODE, Backend
from qbench.versions import installed

OPSET = 17
FLOAT = ORT_FLOAT  # the ONNX route's reference mode (its modes are declared in qbench.modes with the others)
INSTALL = "pip install -r requirements/build.txt -c requirements/constraints.txt (tf2onnx==1.17.0)"
CONVERT_TIMEOUT_S = 600


def _quantization():
    try:
        from onnxruntime import quantization
    except ImportError:
        raise QbenchError("the ort-* modes need onnxruntime and onnx, which are not installed",
                          "pip install -r requirements/run.txt -c requirements/constraints.txt") from None
    return quantization


def convert(tflite: Path, onnx_path: Path, model_id: str) -> str:
    """tf2onnx's conversion of ``tflite`` to ``onnx_path`` in a child process; returns its log. A model it cannot
    convert is NotApplicable with tf2onnx's own last error line."""
    command = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(onnx_path),
               "--opset", str(OPSET)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise NotApplicable(f"tf2onnx did not convert {model_id} within {CONVERT_TIMEOUT_S} s",
                            "choose another mode for this model") from None
    log = done.stdout + done.stderr
    if "No module named tf2onnx" in log:
        raise QbenchError("the ort-* modes are built with tf2onnx, which is not installed", INSTALL)
    # tf2onnx exits 0 with ops it cannot convert left in the graph, saying so on ERROR lines
    errors = [line.split(" - ERROR - ", 1)[1].strip() for line in log.splitlines() if " - ERROR - " in line]
    if done.returncode != 0 or not onnx_path.is_file() or errors:
        reason = "; ".join(errors[-2:]) if errors else _last_error(log, done.returncode)
        raise NotApplicable(f"tf2onnx cannot convert {model_id} to ONNX: {reason}", "choose a LiteRT mode for this model")
    return log


def _last_error(log: str, code: int) -> str:
    """The line of tf2onnx's output that says why (its exception, else its last ERROR line)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for marker in ("Error:", "ERROR", "Exception"):
        found = [line for line in lines if marker in line]
        if found:
            return found[-1]
    return lines[-1] if lines else f"exit status {code}"


def shorten_names(path: Path) -> None:
    """Rename the graph's nodes and inner tensors ``n<i>`` / ``t<i>`` / ``w<i>`` (inputs and outputs keep theirs).

    tf2onnx names each tensor after the TFLite tensor it came from, and a converter's fused tensors carry the
    names of every TensorFlow op fused into them, joined by ";" (MNIST's first conv: over 100 characters); ORT's quantizer
    repeats each name in the QuantizeLinear / DequantizeLinear nodes and scale / zero-point initializers it adds.
    In deeplab_scenes' ort-dynamic-int8 that was 62 % of the file (414 of 670 kB), which is not what any mode
    stores; with short names an .onnx is its weights plus a graph, like a .tflite, and sizes compare."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return  # subgraphs (If, Loop) refer to outer names: left as tf2onnx wrote them
    kept = {v.name for v in (*graph.input, *graph.output)}
    names: dict[str, str] = {}
    for i, t in enumerate(graph.initializer):
        names[t.name] = f"w{i}"
    for node in graph.node:
        for out in node.output:
            if out and out not in kept and out not in names:
                names[out] = f"t{len(names)}"

    def renamed(name: str) -> str:
        return names.get(name, name)

    for t in graph.initializer:
        t.name = renamed(t.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i}"
        node.input[:] = [renamed(x) for x in node.input]
        node.output[:] = [renamed(x) for x in node.output]
    for v in graph.value_info:
        v.name = renamed(v.name)
    onnx.save(model, str(path))


class _Calibration:
    """ORT's ``CalibrationDataReader`` over the calibration split (made a subclass on first use: onnxruntime is
    imported only when a calibrated mode builds)."""

    @staticmethod
    def reader(name: str, samples: np.ndarray):
        quantization = _quantization()

        class Reader(quantization.CalibrationDataReader):
            def __init__(self):
                self._items = iter(samples)

            def get_next(self):
                sample = next(self._items, None)
                return None if sample is None else {name: sample[None].astype(np.float32)}

        return Reader()


@BACKENDS.register
class OrtBackend(Backend):
    id = "ort"
    description = "ONNX Runtime's quantizer on the float32 .tflite converted to ONNX by tf2onnx"

    def starts_from(self, mode) -> str:
        return REFERENCE_MODE if mode.id == FLOAT else FLOAT

    def check(self, inputs, mode) -> None:
        model = inputs.float_model()
        kinds = {w.dtype for op in model.weighted_ops() if (w := model.weights(op)[0]) is not None}
        if kinds and not kinds & {"float32", "float16"}:  # float16 weights are expanded first (aeq.normalize)
            raise NotApplicable(f"{inputs.model_id} is already quantized (weights {', '.join(sorted(kinds))}); "
                                f"{mode.id} starts from float weights", "import the float model")

    def size_reference(self, inputs, mode) -> bytes:
        from qbench.quantizers.aeq import normalize

        return normalize(inputs.float32().path.read_bytes())  # what was converted: float16 weights expanded

    def _calibration(self, inputs, mode) -> np.ndarray | None:
        return inputs.calibration() if mode.calibrated else None

    def key(self, inputs, mode) -> dict[str, Any]:
        calibration = self._calibration(inputs, mode)
        start = inputs.artifact(self.starts_from(mode))
        return {
            "backend": self.id,
            "from": start.sha256,  # the float32 .tflite for ort-float32, ort-float32's .onnx for the others
            "mode": mode.id,
            "recipe": mode.recipe,
            "opset": OPSET,
            "calibration": None if calibration is None else hashlib.sha256(calibration.tobytes()).hexdigest(),
            "versions": {p: installed(p) for p in (("tf2onnx", "onnx", "ai-edge-litert") if mode.id == FLOAT
                                                   else ("onnxruntime", "onnx", "numpy"))},
            "code": code_digest(sys.modules[__name__], extra=_normalize_digest() if mode.id == FLOAT else ""),
        }

    def build(self, inputs, mode, path: Path) -> dict[str, Any]:
        start = inputs.artifact(self.starts_from(mode))
        facts = {"model": inputs.model_id, "mode": mode.id, "recipe": mode.recipe, "from_sha256": start.sha256,
                 "opset": OPSET}
        if mode.id == FLOAT:
            from qbench.quantizers.aeq import normalize

            with tempfile.TemporaryDirectory() as tmp:
                source = Path(tmp) / "float32.tflite"
                source.write_bytes(normalize(start.path.read_bytes()))  # float16 weights as the float32 they encode
                convert(source, path, inputs.model_id)
            shorten_names(path)
            _check_loads(path, inputs.model_id, mode)
            return {**facts, "build_versions": {"tf2onnx": installed("tf2onnx"), "onnx": installed("onnx")}}
        calibration = self._calibration(inputs, mode)
        self._quantize(start.path, path, mode, calibration, inputs.model_id)
        _check_loads(path, inputs.model_id, mode)
        return {**facts, "calibration_samples": 0 if calibration is None else len(calibration),
                "build_versions": {"onnxruntime": installed("onnxruntime"), "onnx": installed("onnx")}}

    def _quantize(self, source: Path, path: Path, mode: Mode, calibration: np.ndarray | None, model_id: str) -> None:
        q = _quantization()
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter), warnings.catch_warnings(), \
                    _quiet_logging():
                warnings.simplefilter("ignore")  # "Please consider to run pre-processing before quantization"
                if mode.recipe == "dynamic":
                    q.quantize_dynamic(source, path, per_channel=True, weight_type=q.QuantType.QInt8)
                    return
                import onnx

                name = onnx.load(str(source), load_external_data=False).graph.input[0].name
                qdq = mode.recipe == "qdq-s8s8"
                q.quantize_static(
                    source, path, _Calibration.reader(name, calibration),
                    quant_format=q.QuantFormat.QDQ if qdq else q.QuantFormat.QOperator,
                    activation_type=q.QuantType.QInt8 if qdq else q.QuantType.QUInt8,
                    weight_type=q.QuantType.QInt8, per_channel=True,
                    calibrate_method=q.CalibrationMethod.MinMax,
                    calibration_providers=["CPUExecutionProvider"],
                )
        except QbenchError:
            raise
        except Exception as exc:  # ORT's quantizer raises ValueError, RuntimeError, onnx's errors...
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise NotApplicable(f"ONNX Runtime's quantizer cannot make {mode.id} of {model_id}: {reason}",
                                "choose another mode for this model") from None


def _normalize_digest() -> str:
    """What ai-edge-quantizer's float-model preparation computes (float16 weights expanded, op codes copied): the
    .tflite tf2onnx converts is made by it."""
    from qbench.cache import function_digest
    from qbench.quantizers import aeq

    return function_digest(aeq.normalize, aeq._expand_float16, aeq._drop_unused_tensors, aeq._tensor_map,
                           aeq._deprecated_codes_only, aeq._float16_weights)


@contextlib.contextmanager
def _quiet_logging():
    """ORT's quantizer logs through the root logger (``logging.info`` per node): not the session's output."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _check_loads(path: Path, model_id: str, mode: Mode) -> None:
    """ONNX Runtime's CPU execution provider must load what was made (not every quantized graph has kernels)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise NotApplicable(f"ONNX Runtime cannot load the {mode.id} model made of {model_id}: "
                            f"{' '.join(str(exc).split())}", "choose another mode for this model") from None

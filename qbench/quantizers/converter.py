"""The ``converter`` backend: TensorFlow's TFLiteConverter turns a source model (Keras, SavedModel, frozen graph)
into one mode's .tflite bytes. The thesis's six modes, one small converter-configuring function each (``RECIPES``).

The only backend that imports TensorFlow (with the model builders), and only inside functions, so the run stage
can import everything else without it.

Single layers of the full-integer modes are kept float (the +budget modes) through TensorFlow's
``tf.lite.experimental.QuantizationDebugger``: it calibrates once with the converter as configured, and its
calibrated model is quantized again for every set of kept layers with those layers' output tensors as
``denylisted_nodes`` -- by ``mlir_quantize`` with the mode's input/output types, the call the converter itself
makes (the debugger's own ``get_nondebug_quantized_model`` always leaves float inputs and outputs).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from qbench.errors import NotApplicable, QbenchError
from qbench.modes import Mode
from qbench.quantizers.base import BACKENDS, REFERENCE_MODE, Backend
from qbench.tf import tensorflow
from qbench.versions import build_versions


def _float32(converter, tf, rep) -> None:
    pass


def _dynamic(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _float16(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _full_integer(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]


def _int8(converter, tf, rep) -> None:
    _full_integer(converter, tf, rep)
    converter.inference_input_type = tf.uint8  # as in the thesis (Code Listing 3.10)
    converter.inference_output_type = tf.uint8


def _int16x8(converter, tf, rep) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]


#: recipe name -> function(converter, tf, representative_dataset) that configures the converter
RECIPES = {"float32": _float32, "dynamic": _dynamic, "float16": _float16, "int8": _int8,
           "int8-float-io": _full_integer, "int16x8": _int16x8}


def _converter(tf, source: Path, source_format: str, args: dict[str, Any]):
    if source_format == "keras":
        import keras

        return tf.lite.TFLiteConverter.from_keras_model(keras.models.load_model(source))
    if source_format == "saved_model":
        return tf.lite.TFLiteConverter.from_saved_model(str(source))
    if source_format == "frozen_graph":
        return tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(source),
            input_arrays=args["input_arrays"],
            output_arrays=args["output_arrays"],
            input_shapes=args.get("input_shapes"),
        )
    raise QbenchError(f"unknown source format {source_format!r}", "use keras, saved_model or frozen_graph")


def convert(source: Path, source_format: str, mode: Mode, calibration: np.ndarray | None, **args: Any) -> bytes:
    if source_format == "tflite":  # already converted: it runs as it is, in no other mode
        if mode.id != REFERENCE_MODE:
            raise QbenchError(f"{source.name} is a ready .tflite; it cannot be re-quantized to {mode.id}",
                              "import the Keras/SavedModel/frozen graph it came from to get the other modes")
        return source.read_bytes()
    if source_format == "saved_model" and source.is_file():  # the cache keeps SavedModels as one tar file
        from qbench.models.imported.formats import unpack_saved_model

        with tempfile.TemporaryDirectory() as tmp:  # must outlive converter.convert(), which rereads it
            return convert(unpack_saved_model(source, Path(tmp)), source_format, mode, calibration, **args)
    with _failures(source, mode):
        return _configured(source, source_format, mode, calibration, args).convert()


def _configured(source: Path, source_format: str, mode: Mode, calibration: np.ndarray | None, args: dict[str, Any]):
    """A converter set up for ``mode`` (its representative dataset reads ``calibration``)."""
    if mode.calibrated and (calibration is None or len(calibration) == 0):
        raise QbenchError(f"mode {mode.id} needs calibration data and none was given", "provide a representative set")
    tf = tensorflow()

    def representative_dataset() -> Iterator[list[np.ndarray]]:
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    converter = _converter(tf, source, source_format, args)
    RECIPES[mode.recipe](converter, tf, representative_dataset)
    return converter


@contextlib.contextmanager
def _failures(source: Path, mode: Mode) -> Iterator[None]:
    try:
        yield
    except QbenchError:
        raise
    except Exception as exc:  # the converter raises many types, all meaning "this model/mode does not convert"
        raise QbenchError(f"converting {source.name} to {mode.id} failed: {exc}", "check the model's ops") from None


@contextlib.contextmanager
def keeping(source: Path, source_format: str, mode: Mode, calibration: np.ndarray, **args: Any):
    """A function that quantizes ``mode`` with the given layers (output tensor names) left float; one calibration
    (QuantizationDebugger's) serves every call."""
    tf = tensorflow()
    from tensorflow.lite.python.convert import mlir_quantize

    with contextlib.ExitStack() as stack:
        if source_format == "saved_model" and source.is_file():  # the cache keeps SavedModels as one tar file
            from qbench.models.imported.formats import unpack_saved_model

            source = unpack_saved_model(source, Path(stack.enter_context(tempfile.TemporaryDirectory())))
        with _failures(source, mode), warnings.catch_warnings():
            # the debugger's own tf.lite.Interpreter warns that it is deprecated for LiteRT: not ours to fix
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated", category=UserWarning)
            converter = _configured(source, source_format, mode, calibration, args)
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=converter.representative_dataset)
        io = [getattr(converter, f"inference_{end}_type", None) or tf.float32 for end in ("input", "output")]

        def build(kept: Mapping[str, str]) -> bytes:
            if any(precision != "float" for precision in kept.values()):
                raise QbenchError(f"{mode.id} keeps layers at float only, not {set(kept.values())}", "keep them float")
            with _failures(source, mode):
                return mlir_quantize(debugger.calibrated_model, input_data_type=io[0], output_data_type=io[1],
                                     denylisted_nodes=sorted(kept) or None)

        yield build


@BACKENDS.register
class ConverterBackend(Backend):
    id = "converter"
    description = "TensorFlow's TFLiteConverter on the Keras / SavedModel / frozen-graph source"

    def check(self, inputs, mode) -> None:
        if inputs.source_format == "tflite" and mode.id != REFERENCE_MODE:
            raise NotApplicable(
                f"{inputs.model_id} is a ready .tflite: TFLiteConverter needs the Keras / SavedModel / frozen graph it "
                f"came from to build {mode.id}",
                "use the aeq-* modes, which quantize a .tflite, or import the model's source",
            )

    def key(self, inputs, mode) -> dict[str, Any]:
        return {"source": inputs.source_key(), "mode": mode.id, "converter": inputs.converter_args,
                "versions": build_versions()}

    def build(self, inputs, mode, path) -> dict[str, Any]:
        source = inputs.source()
        calibration = inputs.calibration() if mode.calibrated else None
        path.write_bytes(convert(source.path, inputs.source_format, mode, calibration, **inputs.converter_args))
        return {
            "model": inputs.model_id,
            "mode": mode.id,
            "source_sha256": source.sha256,
            "calibration_samples": 0 if calibration is None else len(calibration),
            "calibration_sha256": None if calibration is None else hashlib.sha256(calibration.tobytes()).hexdigest(),
            "build_versions": build_versions(),
        }

    def keeper(self, inputs, mode):
        if mode.recipe not in KEEPABLE or inputs.source_format not in ("keras", "saved_model"):
            return super().keeper(inputs, mode)  # the debugger takes TF2 converters only
        return keeping(inputs.source().path, inputs.source_format, mode, inputs.calibration(),
                       **inputs.converter_args)


#: the recipes QuantizationDebugger can keep single layers of (it debugs int8 only, even when asked for 16x8)
KEEPABLE = frozenset({"int8", "int8-float-io"})


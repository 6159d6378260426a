"""Build stage: turn a source model (Keras, SavedModel, frozen graph) into .tflite bytes for one mode.

The only module (with the model builders) that imports TensorFlow, and only inside functions, so the run
stage can import everything else without it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qbench.errors import QbenchError
from qbench.modes import Mode
from qbench.tf import tensorflow


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
        if mode.id != "float32":
            raise QbenchError(f"{source.name} is a ready .tflite; it cannot be re-quantized to {mode.id}",
                              "import the Keras/SavedModel/frozen graph it came from to get the other modes")
        return source.read_bytes()
    if source_format == "saved_model" and source.is_file():  # the cache keeps SavedModels as one tar file
        from qbench.models.imported.formats import unpack_saved_model

        with tempfile.TemporaryDirectory() as tmp:  # must outlive converter.convert(), which rereads it
            return convert(unpack_saved_model(source, Path(tmp)), source_format, mode, calibration, **args)
    if mode.calibrated and (calibration is None or len(calibration) == 0):
        raise QbenchError(f"mode {mode.id} needs calibration data and none was given", "provide a representative set")
    tf = tensorflow()

    def representative_dataset() -> Iterator[list[np.ndarray]]:
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    try:
        converter = _converter(tf, source, source_format, args)
        mode.configure(converter, tf, representative_dataset)
        return converter.convert()
    except QbenchError:
        raise
    except Exception as exc:  # the converter raises many types, all meaning "this model/mode does not convert"
        raise QbenchError(f"converting {source.name} to {mode.id} failed: {exc}", "check the model's ops") from None

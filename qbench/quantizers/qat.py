"""The ``qat`` backend: quantization-aware training (the thesis's Outlook, 6.1) as modes beside post-training int8.

``qat-int8`` and ``qat-int8-float-io`` start from the float source model, as ``int8`` and ``int8-float-io`` do, and
end the same way: TFLiteConverter with the converter backend's own recipe (``converter.RECIPES``, uint8 I/O for
``qat-int8`` as in the thesis) and the same representative dataset. In between, the model is fine-tuned with fake
quantization:

1. **Rebuild in tf_keras** (``qat_graph``). tensorflow-model-optimization 0.8.1 annotates tf_keras models only
   (its ``quantize_model`` refuses Keras 3 models; tensorflow/model-optimization #1270, #1119). The Keras 3 source
   is rebuilt layer by layer as a flat tf_keras functional model: each layer from its config as the tf_keras layer
   of the same class name, called on the same inputs, its weights copied; nested models (DeepLab's MobileNetV2
   feature extractor) are inlined, because tfmot cannot quantize a model inside a model. A layer tf_keras has no
   class for (a custom layer, a Lambda) makes the mode not applicable, with that reason.
2. **Annotate** with tfmot's default 8-bit scheme (``quantize_apply``): int8 weights (per channel for
   convolutions, per tensor for Dense kernels: the scheme's own choice), int8 activations, batch norms after
   convolutions quantized where the converter will fold them. Layers the scheme lacks but that carry no weights
   get an output-only config (the layer runs as it is and its output is fake-quantized, as tfmot does for Add and
   Concatenate): ``Rescaling`` (DeepLab's input ``x / 127.5 - 1``). Any other layer tfmot cannot annotate makes
   the mode not applicable with tfmot's own message. tfmot swaps Concatenate inputs (#1061): they are put back in
   order, and a graph that with fake quantization off does not compute the source's outputs is refused.
3. **Fine-tune** on the model's training split (``BuildInputs.training``: disjoint from the evaluated samples, as
   calibration already is) for a small fixed budget (``RECIPES``: steps, batch, learning rate per built-in model;
   ``DEFAULT`` for user models): first every activation range is set from the twin's own calibration samples
   (tfmot starts them at [-6, 6] and moves them with a 0.999 moving average, far too slowly for a short
   fine-tune), then Adam on sparse cross-entropy over the output's last axis with label 255 ignored (class ids for
   classification, masks for segmentation). Batch norms are frozen (moving statistics and scale kept: small
   batches would only add noise). Progress lines every ``LOG_EVERY`` steps. Models whose task is not scored
   against labels (``inputs:``, task fidelity) do not apply: see ``check``.
4. **Convert** as ``int8`` / ``int8-float-io``, from the fine-tuned weights.

The fine-tuned weights are their own cache artifact (kind ``qat``, keyed by the source model's key, the recipe, the
training data's digest, the calibration samples, TensorFlow / tf-keras / tfmot versions and the code of both
modules): both modes convert the one fine-tune. Each ``.tflite``'s manifest records it (``fine_tune``: steps,
seconds, loss every ``LOG_EVERY`` steps), which results carry and the report shows beside the PTQ twin.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qbench import progress
from qbench.cache import Artifact, code_digest
from qbench.errors import NotApplicable, QbenchError
from qbench.models.base import TrainingSet
from qbench.modes import INT8_CONV, MODES, Contract, Mode
from qbench.quantizers import qat_graph
from qbench.quantizers.base import BACKENDS, Backend
from qbench.quantizers.qat_graph import _tfmot, annotate, check_same_function, rebuild
from qbench.versions import build_versions, installed


#: fine-tune budget per built-in model (user models: ``DEFAULT``); ``steps`` optimizer steps of ``batch`` samples
RECIPES: dict[str, dict[str, Any]] = {
    "mnist_cnn": {"steps": 600, "batch": 32, "learning_rate": 1e-4, "seed": 0},
    "deeplab_scenes": {"steps": 100, "batch": 4, "learning_rate": 2e-5, "seed": 0},
}
DEFAULT = {"steps": 300, "batch": 32, "learning_rate": 1e-4, "seed": 0}
LOG_EVERY = 50  # a progress line every this many steps
IGNORE_LABEL = 255  # as in every mask (qbench.data.labels.IGNORE)
#: tfmot's default 8-bit scheme fake-quantizes Dense kernels per tensor (its per-axis quantizer is for convolutions;
#: a per-axis Dense kernel does not convert: "'tfl.transpose' op has mismatched quantized axes"), so the contract
#: is int8's with FULLY_CONNECTED weights allowed per tensor
DENSE = frozenset({"FULLY_CONNECTED"})

for _mode in (
    Mode("qat-int8", "quantization-aware training (tfmot 8-bit), full integer, uint8 input/output (as int8)", "qat",
         "int8", True, "8bit", INT8_CONV,
         Contract("int8", granularity="per-channel", activations="int8", io=("uint8", "uint8"), per_tensor_ops=DENSE),
         twin="int8"),
    Mode("qat-int8-float-io", "quantization-aware training (tfmot 8-bit), full integer, float input/output", "qat",
         "int8-float-io", True, "8bit", INT8_CONV,
         Contract("int8", granularity="per-channel", activations="int8", per_tensor_ops=DENSE), twin="int8-float-io"),
):
    MODES.register(_mode)


def recipe_for(model_id: str) -> dict[str, Any]:
    return dict(RECIPES.get(model_id, DEFAULT))


# -- 3. fine-tuning --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _recording_ranges():
    """While active, tfmot's moving-average quantizers pass values through unquantized and widen their range
    variables to the min / max they see, as post-training calibration does."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    import tensorflow as tf

    original = quant_ops.MovingAvgQuantize

    def record(inputs, min_var, max_var, ema_decay=0.999, is_training=True, num_bits=8, per_channel=False,
               symmetric=False, narrow_range=False, **_):
        axes = list(range(len(inputs.shape) - 1)) if per_channel else None
        low, high = tf.reduce_min(inputs, axis=axes), tf.reduce_max(inputs, axis=axes)
        if symmetric:  # as tfmot's own update: the range symmetric about 0
            ratio = -1.0 if narrow_range else -((1 << num_bits) - 2) / (1 << num_bits)
            low, high = tf.minimum(low, high / ratio), tf.maximum(high, low * ratio)
        min_var.assign(tf.minimum(min_var, low))
        max_var.assign(tf.maximum(max_var, high))
        return inputs

    quant_ops.MovingAvgQuantize = record
    try:
        yield
    finally:
        quant_ops.MovingAvgQuantize = original


def freeze_batch_norms(model) -> int:
    """Batch norms keep their moving statistics and scale (tf_keras runs a non-trainable batch norm in inference
    mode even in a training call): small fine-tuning batches would only add noise to them."""
    _, tf_keras = _tfmot()
    frozen = [layer for layer in model.submodules if isinstance(layer, tf_keras.layers.BatchNormalization)]
    for layer in frozen:
        layer.trainable = False
    return len(frozen)


def calibrate(qat_model, samples: np.ndarray, batch: int) -> int:
    """Start every activation range at the min / max of ``samples`` (the mode's calibration set, the very samples
    its post-training twin calibrates on), instead of tfmot's [-6, 6]: with its 0.999 moving average a short
    fine-tune would otherwise keep ranges that clip (raw 0..255 pixels at 6) or waste most of the 8 bits.
    Batch norms are frozen first (see ``freeze_batch_norms``): the calibration passes run in training mode.
    Returns how many range variables were set."""
    freeze_batch_norms(qat_model)
    ranges = [v for v in qat_model.non_trainable_variables if v.name.rsplit("/", 1)[-1].split(":")[0].endswith(
        ("_min", "_max"))]
    for v in ranges:
        v.assign(np.zeros(v.shape, np.float32))  # TFLite ranges always hold 0
    with _recording_ranges():
        for start in range(0, len(samples), batch):
            qat_model(np.asarray(samples[start:start + batch], np.float32), training=True)
    return len(ranges)


def masked_ce(from_logits: bool):
    """Mean sparse cross-entropy over the last axis; labels equal to 255 do not count."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        y = tf.cast(tf.reshape(y_true, tf.shape(y_pred)[:-1]), tf.int32)
        valid = tf.not_equal(y, IGNORE_LABEL)
        safe = tf.where(valid, y, 0)
        logp = tf.nn.log_softmax(y_pred) if from_logits else tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))
        nll = -tf.gather(logp, safe, axis=-1, batch_dims=len(y_pred.shape) - 1)
        w = tf.cast(valid, tf.float32)
        return tf.reduce_sum(nll * w) / tf.maximum(tf.reduce_sum(w), 1.0)

    return loss


def _probabilities(model, x: np.ndarray) -> bool:
    """Whether the model already outputs probabilities (a softmax head) rather than logits."""
    out = np.asarray(model(x, training=False))
    return bool(out.min() >= 0 and np.allclose(out.sum(-1), 1.0, atol=1e-3))


def fine_tune(qat_model, training: TrainingSet, calibration: np.ndarray, recipe: dict[str, Any], label: str,
              log=progress.log):
    """Calibrate ``qat_model``'s ranges on ``calibration``, then fine-tune it in place for ``recipe["steps"]`` steps
    of ``training``; what it did (for the manifest)."""
    import tensorflow as tf

    _, tf_keras = _tfmot()
    steps, batch = int(recipe["steps"]), int(recipe["batch"])
    tf_keras.utils.set_random_seed(int(recipe["seed"]))
    calibrate(qat_model, calibration, batch)
    x, y = training.raw, training.y
    loss = masked_ce(from_logits=not _probabilities(qat_model, training.fit(x[:8])))
    optimizer = tf_keras.optimizers.Adam(float(recipe["learning_rate"]))
    rng = np.random.default_rng(int(recipe["seed"]))
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-steps * batch // len(x)))] or [[]]).astype(int)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            value = loss(yb, qat_model(xb, training=True))
        grads = tape.gradient(value, qat_model.trainable_variables)
        optimizer.apply_gradients(zip(grads, qat_model.trainable_variables))
        return value

    start, losses, window = time.perf_counter(), [], []
    log(f"{label}: quantization-aware fine-tuning, {steps} steps of {batch} on {len(x)} training samples")
    for i in range(steps):
        idx = np.sort(order[i * batch:(i + 1) * batch])
        window.append(float(step(tf.constant(training.fit(x[idx]), tf.float32), tf.constant(y[idx]))))
        if (i + 1) % LOG_EVERY == 0 or i + 1 == steps:
            losses.append(float(np.mean(window)))
            window = []
            log(f"{label}: step {i + 1}/{steps}, loss {losses[-1]:.4f} ({time.perf_counter() - start:.0f} s)")
    seconds = time.perf_counter() - start
    return {"steps": steps, "batch": batch, "learning_rate": recipe["learning_rate"], "seconds": round(seconds, 2),
            "loss": losses, "training_samples": len(x)}


# -- 4. conversion ---------------------------------------------------------------------------------------------
def convert(qat_model, mode: Mode, calibration: np.ndarray) -> bytes:
    """The fine-tuned model through TFLiteConverter with the converter backend's recipe for ``mode.recipe``."""
    import tensorflow as tf

    from qbench.quantizers.converter import RECIPES as CONVERTER_RECIPES

    def representative_dataset():
        for sample in calibration:
            yield [sample[None].astype(np.float32)]

    with tempfile.TemporaryDirectory() as tmp:
        qat_model.save(tmp, save_format="tf", include_optimizer=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        CONVERTER_RECIPES[mode.recipe](converter, tf, representative_dataset)
        try:
            return converter.convert()
        except Exception as exc:  # the converter raises many types, all meaning "this does not convert"
            raise QbenchError(f"converting the fine-tuned model to {mode.id} failed: {exc}", "check the model's ops") \
                from None


def load_source(path: Path, source_format: str):
    import keras

    if source_format != "keras":
        raise NotApplicable(f"a {source_format} source has no Keras layers for tfmot to annotate",
                            "import the Keras model (.keras) it came from, or use the post-training modes")
    return keras.models.load_model(path, compile=False)


@BACKENDS.register
class QatBackend(Backend):
    id = "qat"
    description = "quantization-aware training: tfmot 8-bit fine-tuning of the Keras source, then TFLiteConverter"

    def check(self, inputs, mode) -> None:
        if inputs.source_format != "keras":
            what = {"tflite": "a ready .tflite", "frozen_graph": "a frozen graph",
                    "saved_model": "a SavedModel"}.get(inputs.source_format, inputs.source_format)
            raise NotApplicable(
                f"{inputs.model_id} is {what}: tfmot annotates Keras layers for quantization-aware training "
                f"(quantize_model: 'to_quantize can only either be a keras Sequential or Functional model')",
                f"import the Keras model it came from, or use {mode.twin} (post-training)")
        if not inputs.task.labelled:
            raise NotApplicable(
                f"{inputs.model_id} is scored against float32's outputs (task {inputs.task.id}), without labels to "
                f"fine-tune on: distilling float32 into its QAT twin on the calibration samples alone would fit the "
                f"very outputs the fidelity score compares against", f"use {mode.twin}, or give labelled data")

    def tune_key(self, inputs) -> dict[str, Any]:
        """What determines the fine-tuned weights (shared by both modes: one fine-tune per model)."""
        return {
            "backend": self.id,
            "source": inputs.source_key(),
            "recipe": {**recipe_for(inputs.model_id), "log_every": LOG_EVERY},
            "training": inputs.training_digest(),
            "calibration": hashlib.sha256(inputs.calibration().tobytes()).hexdigest(),  # the ranges start from it
            "versions": {**build_versions(), **qat_versions()},
            "code": code_digest(sys.modules[__name__], qat_graph),
        }

    def key(self, inputs, mode) -> dict[str, Any]:
        calibration = inputs.calibration()
        return {"tuned": self.tune_key(inputs), "mode": mode.id, "recipe": mode.recipe,
                "calibration": hashlib.sha256(calibration.tobytes()).hexdigest()}

    def fine_tuned(self, inputs, mode: Mode) -> Artifact:
        """The model's fine-tuned QAT weights (tf_keras HDF5), from the cache or fine-tuned now."""

        def make(path: Path) -> dict[str, Any]:
            from qbench.tf import deterministic_tensorflow

            recipe = recipe_for(inputs.model_id)
            deterministic_tensorflow(int(recipe["seed"]))
            source = inputs.source()
            training = inputs.training()
            if training.y is None:
                raise NotApplicable(f"{inputs.model_id}'s data has no labelled training split to fine-tune on",
                                    f"give a dataset with a train split, or use {mode.twin}")
            float_model = rebuild(load_source(source.path, inputs.source_format))
            qat_model = annotate(float_model)
            check_same_function(qat_model, float_model, inputs.calibration())
            facts = fine_tune(qat_model, training, inputs.calibration(), recipe, inputs.model_id)
            qat_model.save_weights(str(path))
            return {"model": inputs.model_id, "source_sha256": source.sha256, "fine_tune": facts,
                    "build_versions": build_versions(), "qat_versions": qat_versions()}

        return inputs.cache.get_or_build("qat", self.tune_key(inputs), "qat.weights.h5", make,
                                         label=f"{inputs.model_id} quantization-aware fine-tuning")

    def build(self, inputs, mode, path: Path) -> dict[str, Any]:
        tuned = self.fine_tuned(inputs, mode)
        source = inputs.source()
        qat_model = annotate(rebuild(load_source(source.path, inputs.source_format)))
        qat_model.load_weights(str(tuned.path))
        calibration = inputs.calibration()
        path.write_bytes(convert(qat_model, mode, calibration))
        return {"model": inputs.model_id, "mode": mode.id, "source_sha256": source.sha256, "twin": mode.twin,
                "fine_tune": tuned.manifest["fine_tune"], "fine_tuned_sha256": tuned.sha256,
                "calibration_samples": len(calibration), "build_versions": build_versions(),
                "qat_versions": qat_versions()}


def qat_versions() -> dict[str, str | None]:
    return {p: installed(p) for p in ("tf-keras", "tensorflow-model-optimization")}


__all__ = ["QatBackend", "annotate", "convert", "fine_tune", "rebuild"]

"""The quantization-aware graph of a Keras 3 model, for the ``qat`` backend (``qbench.quantizers.qat``): the model
rebuilt layer by layer in tf_keras (nested models inlined, weights copied), annotated with tfmot's default 8-bit
scheme (``Rescaling`` gets an output-only config), Concatenate inputs put back in order after tfmot's
``quantize_apply`` (tensorflow/model-optimization#1061), and a check that the graph, fake quantization off,
computes what the model computes. TensorFlow, tf_keras and tfmot are imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from qbench.errors import NotApplicable, QbenchError

INSTALL = ("pip install --no-deps -r requirements/qat.txt -c requirements/constraints.txt "
           "(tf-keras==2.21.0, tensorflow-model-optimization==0.8.1; ./run installs them)")

def _tfmot():
    try:
        import tensorflow_model_optimization as tfmot
        import tf_keras
    except ImportError:
        raise QbenchError("the qat-* modes need tf-keras and tensorflow-model-optimization, which are not installed",
                          INSTALL) from None
    return tfmot, tf_keras


# -- 1. Keras 3 -> tf_keras ------------------------------------------------------------------------------------
_DROPPED = ("_initializer", "_regularizer", "_constraint")  # the weights are copied; training adds no penalty


def _tf_keras_layer(layer, tf_keras):
    """The tf_keras layer of ``layer``'s class with its configuration (weights are copied once it is built)."""
    name = type(layer).__name__
    cls = getattr(tf_keras.layers, name, None)
    if cls is None or not isinstance(cls, type):
        raise NotApplicable(f"tf_keras has no layer {name} ({layer.name}), so tfmot cannot rebuild this model",
                            "use the post-training modes (int8, aeq-int8) for this model")
    config = layer.get_config()
    accepted = set(inspect.signature(cls.__init__).parameters) | {"name", "dtype", "trainable"}
    kept = {k: v for k, v in config.items() if k in accepted and not k.endswith(_DROPPED)}
    if isinstance(kept.get("dtype"), dict):  # Keras 3 writes a DTypePolicy
        kept["dtype"] = kept["dtype"].get("config", {}).get("name", "float32")
    if isinstance(kept.get("activation"), dict):  # a serialized function
        kept["activation"] = kept["activation"].get("config", kept["activation"])
    try:
        return cls(**kept)
    except (TypeError, ValueError) as exc:
        raise NotApplicable(f"tf_keras cannot rebuild layer {layer.name} ({name}): {exc}",
                            "use the post-training modes (int8, aeq-int8) for this model") from None


def rebuild(model):
    """``model`` (Keras 3, Sequential or functional, nested models inlined) as a flat tf_keras functional model
    with the same weights."""
    import keras

    _, tf_keras = _tfmot()
    made: dict[int, Any] = {}  # id(Keras 3 layer) -> tf_keras layer (a shared layer stays shared)
    pairs: list[tuple[Any, Any]] = []

    def operation(op):
        if isinstance(op, keras.Sequential):
            return lambda x, **_: _chain(op.layers, x)
        if isinstance(op, keras.Model):  # a functional model inside: inline its graph
            return lambda *args, **_: op._run_through_graph(args[0] if len(args) == 1 else list(args), operation)
        if id(op) not in made:
            made[id(op)] = _tf_keras_layer(op, tf_keras)
            pairs.append((op, made[id(op)]))
        return made[id(op)]

    def _chain(layers, x):
        for layer in layers:
            x = operation(layer)(x)
        return x

    if not isinstance(model, keras.Model) or not model.inputs:
        raise NotApplicable("the source is not a built Keras functional or Sequential model",
                            "save the model after building it on an Input")
    if len(model.inputs) != 1:
        raise NotApplicable(f"{len(model.inputs)} inputs: the qat-* modes fine-tune single-input models",
                            "use the post-training modes for this model")
    shape = tuple(model.inputs[0].shape[1:])
    inputs = tf_keras.Input(shape=shape, dtype="float32", name=model.inputs[0].name.split(":")[0] or "input")
    outputs = operation(model)(inputs)
    out = tf_keras.Model(inputs, outputs, name=model.name)
    for source, target in pairs:
        target.set_weights(source.get_weights())
    return out


# -- 2. annotation ---------------------------------------------------------------------------------------------
def _output_config(tfmot):
    """Fake-quantize the layer's output only (no weights): what tfmot's scheme does for Add / Concatenate."""
    quantizers = tfmot.quantization.keras.quantizers

    class OutputConfig(tfmot.quantization.keras.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

        def get_config(self):
            return {}

    return OutputConfig


#: layers tfmot's default 8-bit scheme has no config for, and the config they get (documented in the README)
OUTPUT_ONLY = ("Rescaling",)


def annotate(model):
    """tfmot's default 8-bit QAT model of the tf_keras ``model``; NotApplicable with tfmot's reason if it refuses."""
    tfmot, tf_keras = _tfmot()
    q = tfmot.quantization.keras
    config = _output_config(tfmot)

    def mark(layer):
        if type(layer).__name__ in OUTPUT_ONLY:
            return q.quantize_annotate_layer(layer, config())
        return layer

    try:
        marked = tf_keras.models.clone_model(model, clone_function=mark)
        marked.set_weights(model.get_weights())
        with q.quantize_scope({"OutputConfig": config}):
            annotated = q.quantize_apply(q.quantize_annotate_model(marked))
    except (RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotApplicable(f"tfmot cannot annotate this model for quantization-aware training: {reason}",
                            "use the post-training modes (int8, aeq-int8) for this model") from None
    return _inputs_in_order(annotated, model, tf_keras)


def _inputs_of(model) -> dict[str, list[str]]:
    """Layer name -> the names of the layers it is called on, in order (from the functional config)."""
    found = {}
    for layer in model.get_config()["layers"]:
        nodes = layer.get("inbound_nodes") or []
        found[layer["name"]] = [connection[0] for connection in nodes[0]] if nodes else []
    return found


def _inputs_in_order(qat_model, model, tf_keras):
    """``qat_model`` with every multi-input layer fed in ``model``'s order. tfmot 0.8.1's quantize_apply can swap
    a Concatenate's inputs (tensorflow/model-optimization#1061, open): DeepLab's ASPP concatenation came out as
    [pooled, conv] where the model has [conv, pooled], and the decoder's likewise. The same layer objects (and
    weights) are called again in the right order."""
    wanted = {f"quant_{name}": [f"quant_{n}" for n in inputs] for name, inputs in _inputs_of(model).items()
              if len(inputs) > 1}
    present = _inputs_of(qat_model)
    wrong = {name for name, order in wanted.items() if name in present and present[name] != order
             and sorted(present[name]) == sorted(order)}
    if not wrong:
        return qat_model
    tensors = {qat_model.layers[0].name: qat_model.inputs[0]}
    for layer in qat_model.layers[1:]:
        names = wanted[layer.name] if layer.name in wrong else present[layer.name]
        args = [tensors[n] for n in names]
        tensors[layer.name] = layer(args if len(args) > 1 else args[0])
    return tf_keras.Model(qat_model.inputs, [tensors[n] for n in [t._keras_history.layer.name
                                                                  for t in qat_model.outputs]], name=qat_model.name)


@contextlib.contextmanager
def _without_fake_quantization():
    """While active, tfmot's quantizers pass every value through unchanged (to compare the QAT graph with the
    float model it was made from)."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    names = ("LastValueQuantize", "MovingAvgQuantize", "AllValuesQuantize")
    saved = {name: getattr(quant_ops, name) for name in names}
    for name in names:
        setattr(quant_ops, name, lambda inputs, *args, **kwargs: inputs)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(quant_ops, name, function)


def check_same_function(qat_model, model, samples: np.ndarray) -> None:
    """Refuse a QAT graph that, with its fake quantization off, does not compute what ``model`` computes (a tfmot
    rewrite that changed the model: NotApplicable, naming the largest difference)."""
    x = np.asarray(samples[:2], np.float32)
    want = np.asarray(model(x, training=False))
    with _without_fake_quantization():
        got = np.asarray(qat_model(x, training=False))
    error = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    if not error <= 1e-3 * max(1.0, float(np.abs(want).max())):
        raise NotApplicable(f"tfmot's quantization-aware graph of this model computes something else than the model "
                            f"(largest output difference {error:.3g} with fake quantization off)",
                            "use the post-training modes (int8, aeq-int8) for this model")

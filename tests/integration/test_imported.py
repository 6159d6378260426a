"""Bring-your-own models: the option syntax, validation, and Keras / frozen-graph / SavedModel files that
the tests make themselves, converted by the converter backend and run with LiteRT."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from qbench import modes, runtime
from qbench.cache import sha256_file
from qbench.quantizers.converter import convert
from qbench.data.mnist import Mnist
from qbench.errors import QbenchError
from qbench.models.imported import ImportedModel, pack_saved_model, parse_model_option, unpack_saved_model
from qbench.pipeline import open_session

RNG = np.random.default_rng(0)
FAKE_MNIST = Mnist(
    x_train=RNG.integers(0, 256, (120, 28, 28), dtype=np.uint8),
    y_train=RNG.integers(0, 10, 120, dtype=np.uint8),
    x_test=RNG.integers(0, 256, (32, 28, 28), dtype=np.uint8),
    y_test=RNG.integers(0, 10, 32, dtype=np.uint8),
    origin="test",
)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """``ws(spec)``: the ModelContext of a session that knows ``spec`` (without registering it process-wide) and
    whose MNIST is a few random digits (the tests need shapes, not the real set)."""
    from qbench.data import mnist

    monkeypatch.setattr(mnist, "load", lambda cache, source=None: FAKE_MNIST)

    def context(*specs):
        return open_session(cache=str(tmp_path / "cache"), models=specs).artifacts.context

    return context


def tiny_tflite(path, shape=(1, 28, 28, 1)):
    """A minimal valid .tflite (one input tensor, no ops), written without TensorFlow."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name, tensor.buffer = list(shape), schema.TensorType.FLOAT32, "x", 0
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = [tensor], [0], [0], []
    model = schema.ModelT()
    model.version, model.subgraphs, model.buffers, model.operatorCodes = 3, [graph], [schema.BufferT()], []
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


@pytest.fixture
def files(tmp_path):
    """Files that look like each format by their first bytes (parsing reads no more than that)."""
    keras_file = tmp_path / "a,b" / "net.keras"  # a comma in the path is allowed
    keras_file.parent.mkdir()
    with zipfile.ZipFile(keras_file, "w") as zf:
        zf.writestr("config.json", "{}")
    (tmp_path / "graph.pb").write_bytes(b"\n\x05\n\x01x\x12\x00")
    tiny_tflite(tmp_path / "net.tflite")
    (tmp_path / "net.zip").write_bytes(keras_file.read_bytes())
    (tmp_path / "blob.bin").write_bytes(b"hello")
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    return tmp_path


def test_thesis_frozen_graph_option(files):
    spec = parse_model_option(
        f"deeplab_thesis={files}/graph.pb,inputs=sub_7,outputs=ResizeBilinear_2,shape=1x256x512x3,"
        "task=segmentation,dataset=cityscapes,range=-1:1"
    )
    assert (spec.id, spec.format, spec.task) == ("deeplab_thesis", "frozen_graph", "segmentation")
    assert spec.data_kind.id == "cityscapes" and spec.read_hint(None) == (256, 512, 3)
    assert spec.converter_args() == {
        "input_arrays": ["sub_7"], "output_arrays": ["ResizeBilinear_2"], "input_shapes": {"sub_7": [1, 256, 512, 3]},
    }
    assert spec.source_format == "frozen_graph" and spec.source_filename == "model.pb"
    assert spec.input_range == (-1.0, 1.0) and spec.eval_batch == 1


def test_formats_and_defaults_from_the_file(files):
    keras_spec = parse_model_option(f"k={files}/a,b/net.keras,dataset=mnist")
    assert (keras_spec.format, keras_spec.task) == ("keras", "classification")
    assert keras_spec.source_filename == "model.keras"
    assert keras_spec.converter_args() == {} and keras_spec.input_range == (0.0, 1.0)
    tflite_spec = parse_model_option(f"t={files}/net.tflite,dataset=mnist,shape=1x28x28x1")
    assert tflite_spec.format == "tflite" and tflite_spec.source_format == "tflite" and tflite_spec.eval_batch == 1
    assert tflite_spec.key_parts(None)["calibration_data"] is None
    saved = parse_model_option(f"s={files}/saved,dataset=cityscapes")
    assert saved.format == "saved_model" and saved.source_filename == "model.tar" and saved.input_range == (0.0, 255.0)


@pytest.mark.parametrize(
    "option, problem",
    [
        ("k={d}/a,b/net.keras", "no dataset="),
        ("={d}/a,b/net.keras,dataset=mnist", "does not start with ID=PATH"),
        ("k k={d}/a,b/net.keras,dataset=mnist", "is not usable"),
        ("k={d}/a,b/net.keras,dataset=mnist,colour=red", "unknown key 'colour'"),
        ("k={d}/a,b/net.keras,dataset=mnist,dataset=mnist", "dataset= is repeated"),
        ("k={d}/a,b/net.keras,dataset=mnist,shape=", "shape= is empty"),
        ("k={d}/missing.keras,dataset=mnist", "missing.keras does not exist"),
        ("k={d}/a,b/net.keras,dataset=imagenet", "unknown dataset 'imagenet'"),
        ("k={d}/a,b/net.keras,dataset=images", "dataset=images needs a path"),
        ("k={d}/a,b/net.keras,dataset=idx:{d}/nowhere", "nowhere does not exist"),
        ("k={d}/a,b/net.keras,dataset=mnist,task=detection", "unknown task 'detection'"),
        ("k={d}/net.zip,dataset=mnist,format=tflite", "is not a tflite model"),
        ("k={d}/a,b/net.keras,dataset=mnist,format=onnx", "unknown format 'onnx'"),
        ("k={d}/a,b/net.keras,dataset=mnist,format=tflite", "is not a tflite model (it looks like keras)"),
        ("k={d}/a,b/net.keras,dataset=mnist,format=frozen_graph,inputs=x,outputs=y", "it looks like keras"),
        ("k={d}/graph.pb,dataset=mnist,format=tflite", "is not a tflite model"),
        ("k={d}/saved,dataset=mnist,format=frozen_graph,inputs=x,outputs=y", "is not a frozen_graph model"),
        ("k={d}/graph.pb,dataset=mnist,format=saved_model", "is not a saved_model model"),
        ("k={d}/blob.bin,dataset=mnist", "cannot tell the format"),
        ("k={d}/net.zip,dataset=mnist", "Keras 3 loads only .keras and .h5"),
        ("k={d}/graph.pb,dataset=mnist,inputs=x", "needs exactly one inputs= and one outputs="),
        ("k={d}/graph.pb,dataset=mnist,inputs=x,y,outputs=z", "inputs=x,y names several arrays"),
        ("k={d}/a,b/net.keras,dataset=mnist,inputs=x", "apply to frozen graphs only"),
        ("k={d}/a,b/net.keras,dataset=mnist,shape=28", "has no batch dimension"),
        ("k={d}/a,b/net.keras,dataset=mnist,shape=1x-28x28", "shape=1x-28x28 is not valid"),
        ("k={d}/a,b/net.keras,dataset=mnist,range=1:0", "is empty"),
        ("k={d}/a,b/net.keras,dataset=mnist,range=0..1", "range=0..1 is not valid"),
        ("k={d}/a,b/net.keras,dataset=mnist,task=segmentation", "task segmentation does not fit dataset mnist"),
    ],
)
def test_bad_options_say_what_is_wrong(files, option, problem):
    with pytest.raises(QbenchError) as exc:
        parse_model_option(option.format(d=files))
    assert problem in exc.value.problem and exc.value.fix


def test_parsing_imports_no_tensorflow(files):
    code = (
        "import sys; from qbench.models.imported import parse_model_option as p; "
        f"p('g={files}/graph.pb,inputs=a,outputs=b,dataset=mnist,shape=1x28x28'); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TF'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_key_follows_the_file_and_build_copies_it(files, ws, tmp_path):
    model = files / "a,b" / "net.keras"
    spec = parse_model_option(f"k={model},dataset=mnist")
    ctx = ws(spec)
    key = spec.key_parts(ctx)
    assert key["sha256"] == sha256_file(model) and key["calibration_data"] == FAKE_MNIST.digest
    facts = spec.build_source(ctx, tmp_path / "copy.keras")
    assert (tmp_path / "copy.keras").read_bytes() == model.read_bytes()
    assert facts["imported_sha256"] == key["sha256"]
    with zipfile.ZipFile(model, "a") as zf:  # the user replaces the file: the key changes, the model rebuilds
        zf.writestr("weights.h5", "new")
    assert spec.key_parts(ctx)["sha256"] != key["sha256"]


# ---- real models (TensorFlow) -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    from qbench.tf import tensorflow

    return tensorflow()


def _predict(path, x: np.ndarray) -> np.ndarray:
    runner = runtime.open_runner(path, runtime.get("builtin"))
    outputs = []
    for sample in x:
        runner.set_input(sample[None])
        runner.invoke()
        outputs.append(runner.output())
    return np.concatenate(outputs)


def test_mnist_eval_and_calibration_follow_the_model_and_range(tf, ws, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.save(tmp_path / "tiny.keras")
    spec = parse_model_option(f"tiny={tmp_path}/tiny.keras,dataset=mnist,range=-1:1")
    plain = parse_model_option(f"plain={tmp_path}/tiny.keras,dataset=mnist")
    ctx = ws(spec, plain)
    ev = spec.eval_set(ctx)  # 28x28 digits reshaped to the model's 28x28x1, pixels mapped to -1..1
    assert ev.x.shape == (32, 28, 28, 1) and ev.x.dtype == np.float32 and ev.num_classes == 10
    np.testing.assert_allclose(ev.x[..., 0], FAKE_MNIST.x_test / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(ev.y, FAKE_MNIST.y_test)
    assert spec.calibration(ctx).shape == (100, 28, 28, 1)
    plain = plain.eval_set(ctx)
    np.testing.assert_array_equal(plain.x[..., 0], FAKE_MNIST.x_test.astype(np.float32) / 255)  # as mnist_cnn's


def test_keras_model_converts_to_float32_and_int8(tf, ws, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.save(tmp_path / "tiny.keras")
    spec = parse_model_option(f"tiny={tmp_path}/tiny.keras,dataset=mnist")
    ctx = ws(spec)
    source = tmp_path / spec.source_filename
    spec.build_source(ctx, source)
    x = spec.eval_set(ctx).x
    reference = model.predict(x, verbose=0)
    calibration = spec.calibration(ctx)[:16]
    for mode_id, atol in (("float32", 1e-5), ("int8", 0.1)):
        path = tmp_path / f"tiny-{mode_id}.tflite"
        path.write_bytes(convert(source, spec.source_format, modes.get(mode_id), calibration, **spec.converter_args()))
        np.testing.assert_allclose(_predict(path, x), reference, atol=atol * np.abs(reference).max())


def _frozen_graph(tf, path, input_shape):
    """A dense layer as a frozen GraphDef with the input named 'image' and the output 'logits'."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    weights = tf.Variable(tf.random.stateless_normal((784, 10), seed=(1, 2)))

    @tf.function(input_signature=[tf.TensorSpec(input_shape, tf.float32, name="image")])
    def dense(x):
        return tf.identity(tf.matmul(tf.reshape(x, [-1, 784]), weights), name="logits")

    graph = convert_variables_to_constants_v2(dense.get_concrete_function()).graph.as_graph_def()
    tf.io.write_graph(graph, str(path.parent), path.name, as_text=False)
    return weights.numpy()


@pytest.mark.parametrize("input_array, shape", [("image", "1x28x28"), ("Reshape", "1x784")])
def test_frozen_graph_with_named_arrays_converts_and_runs(tf, ws, tmp_path, input_array, shape):
    """Fed at its placeholder, or cut at an intermediate node as the thesis fed DeepLab at sub_7."""
    weights = _frozen_graph(tf, tmp_path / "frozen.pb", [None, 28, 28])
    option = f"fg={tmp_path}/frozen.pb,inputs={input_array},outputs=logits,shape={shape},dataset=mnist"
    spec = parse_model_option(option)
    ctx = ws(spec)
    source = tmp_path / spec.source_filename
    spec.build_source(ctx, source)
    x = spec.eval_set(ctx).x[:8]
    reference = x.reshape(8, 784) @ weights
    for mode_id in ("float32", "int8"):
        path = tmp_path / f"fg-{mode_id}.tflite"
        path.write_bytes(convert(source, "frozen_graph", modes.get(mode_id), spec.calibration(ctx)[:16],
                                 **spec.converter_args()))
        runner = runtime.open_runner(path, runtime.get("builtin"))
        assert "x".join(map(str, (1, *runner.input_shape))) == shape and runner.outputs[0].name == "logits"
        assert (runner.inputs[0].dtype, runner.outputs[0].dtype) == ((np.uint8,) * 2 if mode_id == "int8" else (np.float32,) * 2)
        got = []
        for sample in x:  # int8: uint8 I/O as the thesis's int8 models, (de)quantized by the runner
            runner.set_input(sample[None])
            runner.invoke()
            got.append(runner.output()[0])
        tolerance = 1e-4 if mode_id == "float32" else 0.1
        np.testing.assert_allclose(np.array(got), reference, atol=tolerance * np.abs(reference).max())


@pytest.mark.parametrize(
    "arrays, problem",
    [
        ("inputs=sub_7,outputs=logits", "has no input array sub_7; placeholders that exist: image"),
        ("inputs=image,outputs=Resize_2", "has no output array Resize_2; unconsumed nodes that exist: Identity"),
    ],
)
def test_frozen_graph_with_wrong_array_names_lists_existing_ones(tf, ws, tmp_path, arrays, problem):
    _frozen_graph(tf, tmp_path / "frozen.pb", [None, 28, 28])
    spec = parse_model_option(f"fg={tmp_path}/frozen.pb,{arrays},dataset=mnist")
    with pytest.raises(QbenchError) as exc:
        spec.build_source(ws, tmp_path / "model.pb")
    assert problem in exc.value.problem and "Netron" in exc.value.fix
    assert not (tmp_path / "model.pb").exists()


def test_frozen_graph_with_unknown_input_shape_needs_shape(tf, ws, tmp_path):
    _frozen_graph(tf, tmp_path / "frozen.pb", [None, None, 28])
    spec = parse_model_option(f"fg={tmp_path}/frozen.pb,inputs=image,outputs=logits,dataset=mnist")
    with pytest.raises(QbenchError, match="has no fully known shape"):
        spec.build_source(ws, tmp_path / "model.pb")


def test_not_a_graph_def(tf, ws, tmp_path):
    (tmp_path / "junk.pb").write_bytes(b"\xff" * 64)
    spec = ImportedModel("junk", tmp_path / "junk.pb", dataset="mnist", input_arrays=["a"], output_arrays=["b"])
    with pytest.raises(QbenchError, match="is not a frozen GraphDef"):
        spec.build_source(ws, tmp_path / "model.pb")


def test_saved_model_is_cached_as_one_tar_and_converts_unpacked(tf, ws, tmp_path):
    module = tf.Module()
    module.weights = tf.Variable(tf.random.stateless_normal((784, 10), seed=(3, 4)))
    module.serve = tf.function(
        lambda x: tf.matmul(tf.reshape(x, [-1, 784]), module.weights),
        input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)],
    )
    tf.saved_model.save(module, str(tmp_path / "sm"))
    spec = parse_model_option(f"sm={tmp_path}/sm,dataset=mnist")
    spec.build_source(ws, tmp_path / "model.tar")
    again = tmp_path / "again.tar"
    pack_saved_model(tmp_path / "sm", again)
    assert again.read_bytes() == (tmp_path / "model.tar").read_bytes()  # deterministic: same dir, same bytes
    unpacked = unpack_saved_model(tmp_path / "model.tar", tmp_path / "unpacked")
    model = convert(unpacked, "saved_model", modes.get("float32"), None)
    assert model[4:8] == b"TFL3"

"""The ai-edge-quantizer backend and the mode contracts: what they build, what they refuse, and how they fail.

Uses the shared cache's MNIST artifacts (built once by the suite) and small models made here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from qbench import contracts, modes
from qbench import config
from qbench.bundle import open_bundle, write_bundle
from qbench.cache import Artifact
from qbench.data.wheel import Wheel
from qbench.errors import NotApplicable, QbenchError
from qbench.models.imported import parse_model_option
from qbench.quantizers.aeq import normalize
from qbench.pipeline.session import open_session
from qbench.tflite_file import TfliteModel

MODEL = "mnist_cnn"
AEQ_MODES = [m for m, mode in modes.MODES.items() if mode.backend == "aeq"]
#: every LiteRT mode but the +budget searches (the ONNX Runtime modes: tests/integration/test_ort_models.py)
PLAIN_MODES = [m for m, mode in modes.MODES.items() if mode.base is None and mode.format == "tflite"]


# ---- contracts ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("impostor", ["float32", "dynamic", "aeq-weight-int8"])
def test_a_float_or_weaker_artifact_in_place_of_int8_breaks_the_contract_by_name(qbench, impostor):
    """What a silently failed conversion looks like: the wrong file under the int8 mode's name."""
    problems = contracts.check(qbench.artifacts.model_file(MODEL, impostor), modes.get("int8").contract)
    text = "\n".join(problems)
    assert "activations must be int8" in text and "input/output are float32/float32" in text
    assert "CONV_2D #" in text and "FULLY_CONNECTED #" in text  # the offending ops, by kind, index and tensor
    if impostor == "float32":
        assert "weights must be int8" in text and "2 of 2 covered ops" in text


def test_16x8_with_int8_activations_breaks_the_16x8_contract(qbench):
    problems = contracts.check(qbench.artifacts.model_file(MODEL, "int8-float-io"), modes.get("int16x8").contract)
    assert len(problems) == 1 and "activations must be int16" in problems[0] and "int8" in problems[0]


@pytest.mark.parametrize("mode", ["float32", "dynamic", "float16", "int8", "int8-float-io", "int16x8", *AEQ_MODES])
def test_every_real_artifact_meets_its_own_contract(qbench, mode):
    try:
        model = qbench.artifacts.model_file(MODEL, mode)
    except NotApplicable as exc:
        assert "blocks of 32" in exc.problem  # MNIST's dense layer takes 2028 inputs
        return
    assert contracts.check(model, modes.get(mode).contract) == []


def test_a_model_with_nothing_to_quantize_is_named():
    contract = modes.get("aeq-int4-block32").contract
    model = TfliteModel(_tiny_conv_only(), "conv-only")
    assert any("nothing the mode quantizes" in p for p in contracts.check(model, contract))


def _tiny_conv_only() -> bytes:
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name, tensor.buffer = [1, 4], schema.TensorType.FLOAT32, "x", 0
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = [tensor], [0], [0], []
    model = schema.ModelT()
    model.version, model.subgraphs, model.buffers, model.operatorCodes = 3, [graph], [schema.BufferT()], []
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ---- building without TensorFlow, and what is cached ----------------------------------------------------------

def _seeded_cache(qbench, tmp_path: Path) -> Path:
    """A cache holding only MNIST's float32 .tflite and the MNIST data: what a warm build machine has."""
    root = tmp_path / "cache"
    for artifact in (qbench.artifacts.tflite(MODEL, "float32"),):
        entry = artifact.path.parent
        shutil.copytree(entry, root / entry.parent.name / entry.name)
    data = next(p.parent for p in qbench.cache.root.glob("data/*/mnist.npz"))
    shutil.copytree(data, root / "data" / data.name)
    return root


def test_aeq_modes_build_from_a_cached_float32_without_tensorflow(qbench, tmp_path):
    root = _seeded_cache(qbench, tmp_path)
    code = (
        "import sys; from qbench.pipeline.session import open_session; "
        f"ws = open_session(cache={str(root)!r}); "
        "a = ws.artifacts.tflite('mnist_cnn', 'aeq-dynamic-int8'); b = ws.artifacts.tflite('mnist_cnn', 'aeq-int8'); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'; "
        "print(a.bytes, b.bytes, len(ws.cache.built))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert int(out[2]) == 2  # both were built here, neither came from elsewhere
    assert int(out[0]) == qbench.artifacts.tflite(MODEL, "aeq-dynamic-int8").bytes  # reproducible: same bytes as the suite's


def test_a_warm_session_needs_neither_ai_edge_quantizer_nor_mnists_training_split(qbench):
    """Cached AEQ artifacts are found by recipe name and calibration digest: importing ai-edge-quantizer (and
    scipy) or keeping the 47 MB training split to compute them added ~120 MiB to every benchmark's peak RSS."""
    for mode in ("aeq-int8", "aeq-weight-int4", "int8"):
        qbench.artifacts.tflite(MODEL, mode)
    code = (
        "import sys; from qbench.pipeline.session import open_session; "
        f"ws = open_session(cache={str(qbench.cache.root)!r}); ws.artifacts.eval_set('mnist_cnn'); "
        "rss = lambda: int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]); "
        "before = rss(); [ws.artifacts.tflite('mnist_cnn', m) for m in ('aeq-int8', 'aeq-weight-int4', 'int8')]; "
        "print(len(ws.cache.built), 'ai_edge_quantizer' in sys.modules, 'scipy' in sys.modules, rss() - before)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out[:3] == ["0", "False", "False"]  # nothing built, nothing of the quantizer imported
    assert int(out[3]) < 16 * 1024  # KiB kept by finding three artifacts (the training split alone is 46 MiB)


def test_a_damaged_float32_never_yields_a_cached_artifact(qbench, tmp_path):
    broken = tmp_path / "float32.tflite"
    broken.write_bytes(qbench.artifacts.tflite(MODEL, "float32").path.read_bytes()[:20_000])

    artifacts = open_session(cache=str(tmp_path / "cache")).artifacts
    real = artifacts.tflite

    def damaged(model_id, mode_id):
        if mode_id == "float32":
            return Artifact(broken, {"bytes": broken.stat().st_size, "sha256": "x" * 64})
        return real(model_id, mode_id)

    artifacts.tflite = damaged
    with pytest.raises(QbenchError, match="float32.tflite is a damaged TFLite flatbuffer|not a TFLite"):
        artifacts.tflite(MODEL, "aeq-dynamic-int8")
    assert not list((tmp_path / "cache").glob("tflite/*")) and not any((tmp_path / "cache" / "tmp").iterdir())


def test_an_aeq_recipe_that_does_not_fit_is_one_error_naming_model_mode_and_aeqs_reason(tmp_path):
    """Dense 100 -> 64 -> 10: the 64-input layer fits 32-blocks (so the mode applies), the 100-input one does not,
    and ai-edge-quantizer refuses the model with its own words."""
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.layers.Input((100,)), keras.layers.Dense(64), keras.layers.Dense(10)])
    net.save(tmp_path / "dense.keras")
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).normal(size=(20, 100)).astype(np.float32))
    spec = parse_model_option(f"dense={tmp_path / 'dense.keras'},dataset=inputs:{tmp_path / 'x.npz'}")
    ws = open_session(cache=str(tmp_path / "cache"), models=[spec])
    with pytest.raises(NotApplicable) as exc:
        ws.artifacts.tflite("dense", "aeq-int4-block32")
    problem = exc.value.problem
    assert "ai-edge-quantizer cannot make aeq-int4-block32 (dynamic_wi4b32_afp32) of dense" in problem
    assert "not divisible by block size 32" in problem
    with pytest.raises(NotApplicable, match="not divisible"):  # the verdict is cached, not recomputed
        open_session(cache=str(tmp_path / "cache"), models=[spec]).artifacts.tflite("dense", "aeq-int4-block32")


def test_a_mismatched_wheel_is_refused_before_anything_in_it_is_read(tmp_path):
    fake = tmp_path / "mediapipe-0.10.18-cp311-cp311-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("mediapipe/modules/iris_landmark/iris_landmark.tflite", b"not a model")
    wheel = Wheel("mediapipe==0.10.18", "12db0f7b1cc18e2e3f604f6e95020b82c214c470d7d94ff32eeb8f8729a45ec3", 36)
    with pytest.raises(QbenchError, match="not the pinned mediapipe==0.10.18 wheel's") as exc:
        wheel.verify(fake, "supply it another way")
    assert "refusing to unpickle or unpack" in exc.value.problem and "fetch mediapipe==0.10.18 again" in exc.value.fix


def test_normalize_fills_op_codes_kept_only_in_the_deprecated_field(qbench):
    """2019-era files (MediaPipe's) name their ops only in deprecated_builtin_code; AEQ reads builtin_code."""
    from ai_edge_litert import schema_py_generated as schema

    from qbench.tflite_file import rewrite

    def age(m):
        for code in m.operatorCodes:
            code.deprecatedBuiltinCode, code.builtinCode = min(code.builtinCode, 127), 0
        m.signatureDefs = []

    old = rewrite(qbench.artifacts.tflite(MODEL, "float32").path.read_bytes(), age)
    fixed = schema.ModelT.InitFromPackedBuf(bytearray(normalize(old)), 0)
    assert all(c.builtinCode == c.deprecatedBuiltinCode for c in fixed.operatorCodes)
    assert [s.signatureKey for s in fixed.signatureDefs] in ([b"serving_default"], ["serving_default"])


# ---- ready .tflite files and bundles ---------------------------------------------------------------------------

def test_a_ready_tflite_runs_in_every_aeq_mode_and_converter_modes_skip_with_the_reason(pytester, qbench,
                                                                                     monkeypatch, tmp_path):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    from paths import BENCHMARKS as bench
    for name in ("test_quality.py", "test_contract.py", "test_size.py"):
        pytester.copy_example(str(bench / name))
    path = qbench.artifacts.tflite(MODEL, "float32").path
    result = pytester.runpytest_subprocess(
        f"--qbench-cache={qbench.cache.root}", "-p", "no:cacheprovider", "-rs",
        f"--qbench-model=ready={path},dataset=mnist", "--qbench-models=ready", f"--qbench-modes={','.join(PLAIN_MODES)}",
        "--qbench-devices=builtin", "-k", "not scenes")
    out = result.stdout.str()
    # 7 AEQ modes pass quality, contract and size; float32 passes quality and size (a ready file has no contract);
    # the modes that start from a Keras source (5 converter modes, 2 quantization-aware ones) and the blockwise mode
    # skip in all three
    source_modes = [m for m in PLAIN_MODES if modes.get(m).backend in ("converter", "qat") and m != "float32"]
    assert len(source_modes) == 7, source_modes
    result.assert_outcomes(passed=3 * 7 + 2, skipped=3 * (len(source_modes) + 1) + 1)
    assert "ready is a ready .tflite: TFLiteConverter needs" in out and "blocks of 32 inputs" in out
    assert "to_quantize can only either be a keras Sequential or Functional model" in out


def test_bundles_carry_aeq_artifacts_and_the_modes_that_did_not_apply(qbench, tmp_path):
    out = write_bundle(qbench, [MODEL], ["aeq-int8", "aeq-int4-block32"], tmp_path / "bundle")
    manifest = json.loads((out / "manifest.json").read_text())["models"][MODEL]
    assert set(manifest["tflite"]) == {"float32", "aeq-int8"}
    assert "blocks of 32" in manifest["not_applicable"]["aeq-int4-block32"]
    bundle = open_bundle(out, config.defaults())
    assert bundle.artifacts.tflite(MODEL, "aeq-int8").sha256 == qbench.artifacts.tflite(MODEL, "aeq-int8").sha256
    assert bundle.select("modes", None) == ["float32", "aeq-int8", "aeq-int4-block32"]
    with pytest.raises(NotApplicable, match="blocks of 32"):
        bundle.artifacts.tflite(MODEL, "aeq-int4-block32")

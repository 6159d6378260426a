"""Portable run-stage bundles: the cache's results without TensorFlow, refused when damaged, written atomically."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import qbench as qbench_package
from qbench import runtime
from qbench import config
from qbench.bundle import MANIFEST, RUN_REQUIREMENTS, open_bundle, write_bundle
from qbench.cache import sha256_file
from qbench.errors import QbenchError

from paths import REPO

MODEL = "mnist_cnn"
DEVICE = "builtin"
INT8 = f"{MODEL}-int8.tflite"
EVAL = f"{MODEL}-eval.npz"


@pytest.fixture(scope="module")
def bundle(qbench, tmp_path_factory) -> Path:
    return write_bundle(qbench, [MODEL], ["int8"], tmp_path_factory.mktemp("bundle") / "bundle")


def opened(path):
    """The run stage's session over a bundle, with the default settings (no --qbench-cache: nothing is kept
    beyond the session)."""
    return open_bundle(path, config.defaults())


@pytest.fixture
def copy(bundle, tmp_path) -> Path:
    """A private copy of the bundle, to damage."""
    return Path(shutil.copytree(bundle, tmp_path / "bundle"))


def test_manifest_pins_every_file_and_records_the_build(bundle, qbench):
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert set(manifest["files"]) == {p.name for p in bundle.iterdir()} - {MANIFEST}
    for name, facts in manifest["files"].items():
        assert facts == {"bytes": (bundle / name).stat().st_size, "sha256": sha256_file(bundle / name)}
    assert list(manifest["models"][MODEL]["tflite"]) == ["float32", "int8"]  # float32 without being asked
    recorded, cached = manifest["models"][MODEL]["tflite"]["int8"], qbench.artifacts.tflite(MODEL, "int8").manifest
    for fact in ("model", "mode", "build_versions", "source_sha256", "sha256", "bytes"):
        assert recorded[fact] == cached[fact], fact
    assert manifest["run_requirements"] == RUN_REQUIREMENTS.read_text()
    assert manifest["qbench_version"] == qbench_package.__version__
    assert "ai-edge-litert" in manifest["tool_versions"]["run"]


def test_serves_what_the_cache_serves(bundle, qbench):
    ws = opened(bundle)
    ours, theirs = ws.artifacts.eval_set(MODEL), qbench.artifacts.eval_set(MODEL)
    assert ours.x.dtype == theirs.x.dtype and ours.y.dtype == theirs.y.dtype
    np.testing.assert_array_equal(ours.x, theirs.x)
    np.testing.assert_array_equal(ours.y, theirs.y)
    assert (ours.num_classes, ours.class_names) == (theirs.num_classes, theirs.class_names)
    spec, reference = ws.artifacts.spec(MODEL), qbench.artifacts.spec(MODEL)
    for fact in ("task", "floors", "eval_batch", "description", "source_format"):
        assert getattr(spec, fact) == getattr(reference, fact), fact
    for mode in ("float32", "int8"):
        assert ws.artifacts.tflite(MODEL, mode).path.read_bytes() == qbench.artifacts.tflite(MODEL, mode).path.read_bytes()
    info, expected = ws.results.info(MODEL, "int8", DEVICE), qbench.results.info(MODEL, "int8", DEVICE)
    for key in ("task", "model_bytes", "size_ratio", "model_sha256", "predictions_sha256", "accuracy", "versions"):
        assert info[key] == expected[key], key
    # the plugin's session summary: a bundle builds no artifact; the evaluations it ran count as run
    assert sorted(entry.split("/")[0] for entry in ws.built()) == ["eval", "eval"]  # float32's and int8's


def test_a_tampered_file_is_refused_when_first_used(copy):
    path = copy / INT8
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the sha256 can tell
    path.write_bytes(bytes(data))
    ws = opened(copy)
    assert ws.evaluator.result(MODEL, "float32", DEVICE)["accuracy"] > 0.9  # the intact files still serve
    with pytest.raises(QbenchError, match=f"{INT8} does not match the sha256") as exc:
        ws.evaluator.result(MODEL, "int8", DEVICE)
    assert "qbench build --out" in exc.value.fix


@pytest.mark.parametrize("name", [INT8, EVAL])
@pytest.mark.parametrize(
    "damage, says",
    [(lambda p: p.unlink(), "is missing"),
     (lambda p: p.write_bytes(p.read_bytes()[:-1]), r"has \d+ bytes, the manifest")],
    ids=["missing", "truncated"],
)
def test_a_missing_or_truncated_file_is_refused_on_open(copy, name, damage, says):
    damage(copy / name)
    with pytest.raises(QbenchError, match=f"{name} {says}") as exc:
        opened(copy)
    assert "qbench build --out" in exc.value.fix


def test_a_folder_without_a_manifest_is_not_a_bundle(tmp_path):
    with pytest.raises(QbenchError, match="is not a readable qbench bundle"):
        opened(tmp_path)


def test_asking_for_what_the_bundle_lacks_lists_what_it_has(bundle):
    ws = opened(bundle)
    with pytest.raises(QbenchError, match="no 'float16' model of mnist_cnn; it has modes float32, int8"):
        ws.artifacts.tflite(MODEL, "float16")
    with pytest.raises(QbenchError, match="no model 'other'; it has mnist_cnn"):
        ws.artifacts.eval_set("other")
    assert ws.select("models", None) == [MODEL] and ws.select("modes", None) == ["float32", "int8"]
    assert ws.select("modes", "int8") == ["int8"] and ws.select("devices", "all") == list(runtime.DEVICES)
    assert ws.select("devices", None) == ["xnnpack", "xnnpack-mt"]  # the default selection, as on the cache
    with pytest.raises(QbenchError, match="no modes float16; it has float32, int8"):
        ws.select("modes", "int8,float16")


def test_writing_again_replaces_the_old_bundle_atomically(qbench, tmp_path):
    out = tmp_path / "bundle"
    write_bundle(qbench, [MODEL], [], out)
    (out / "stale.txt").write_text("only in the old bundle")
    old_manifest = (out / MANIFEST).read_text()
    with pytest.raises(QbenchError, match="unknown mode 'int9'"):  # fails after float32 was written
        write_bundle(qbench, [MODEL], ["int9"], out)
    assert (out / MANIFEST).read_text() == old_manifest and (out / "stale.txt").exists()
    write_bundle(qbench, [MODEL], ["int8"], out)
    assert not (out / "stale.txt").exists()
    assert opened(out).artifacts.contents == {MODEL: ["float32", "int8"]}
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no temp or set-aside folder left behind


def test_refuses_to_replace_a_folder_that_is_not_a_bundle(qbench, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(QbenchError, match="is not a qbench bundle; refusing to replace it"):
        write_bundle(qbench, [MODEL], ["int8"], tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_run_stage_from_a_bundle_never_imports_tensorflow(bundle, qbench):
    snippet = textwrap.dedent(f"""
        import sys
        from qbench import config
        from qbench.bundle import open_bundle
        result = open_bundle(sys.argv[1], config.defaults()).evaluator.result({MODEL!r}, "int8", {DEVICE!r})
        assert "tensorflow" not in sys.modules, "the run stage imported TensorFlow"
        print(result["predictions_sha256"])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", snippet, str(bundle)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == qbench.evaluator.result(MODEL, "int8", DEVICE)["predictions_sha256"]


def test_what_the_warm_up_evaluates_is_what_the_session_reads(bundle, qbench):
    """Without --qbench-cache a bundle's session evaluates anew, once: its warm-up workers (sessions remade from it)
    keep their evaluations in the session's own folder, the session reads them from there instead of running them
    again, and the folder goes with the process that made it."""
    snippet = textwrap.dedent(f"""
        from qbench import config
        from qbench.bundle import open_bundle
        session = open_bundle({str(bundle)!r}, config.defaults())
        assert not session.evaluator.cached({MODEL!r}, "int8", {DEVICE!r})
        function, args, kwargs = session.remade(2)
        worker = function(*args, **kwargs)  # what a warm-up worker makes (qbench.warmup._start)
        assert worker.evaluator.eval_cache.root == session.evaluator.eval_cache.root
        worker.evaluator.evaluation({MODEL!r}, "int8", {DEVICE!r})
        assert session.evaluator.cached({MODEL!r}, "int8", {DEVICE!r}), "the session would evaluate it again"
        result = session.evaluator.result({MODEL!r}, "int8", {DEVICE!r})
        assert result["eval_cached"] is False, "evaluated in this session, not read from an earlier one"
        print(session.evaluator.eval_cache.root)
        print(result["predictions_sha256"])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder, digest = proc.stdout.split()
    assert not Path(folder).exists(), "the session's evaluation folder outlived it"
    assert not Path(folder).is_relative_to(bundle), "a bundle is read-only to its sessions"
    assert digest == qbench.evaluator.result(MODEL, "int8", DEVICE)["predictions_sha256"]


@pytest.mark.parametrize(
    "x, stored",
    [(np.array([[0.0, 17.0, 255.0]], np.float32), np.uint8),  # scene pixels: whole numbers 0..255
     (np.array([[0.0, 0.5, 1.0]], np.float32), np.float32),  # normalized MNIST
     (np.array([[-1.0, 3.0]], np.float32), np.float32),
     (np.array([[256.0]], np.float32), np.float32)],
    ids=["pixels", "fractions", "negative", "above-255"],
)
def test_eval_inputs_are_stored_compactly_only_when_exact(x, stored):
    from qbench.bundle import compact

    packed = compact(x)
    assert packed.dtype == stored
    np.testing.assert_array_equal(packed.astype(x.dtype), x)

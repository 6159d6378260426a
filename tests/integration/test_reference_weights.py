"""The built-in models' shipped reference weights (``qbench/models/weights/``): they match the training recipe the
code has now, they are what every run converts (nothing is trained), and their float32 quality is what the manifest
says it is, exactly.

When the recipe changes (a hyper-parameter, the training data's content, the architecture, the training loop),
``test_the_shipped_weights_match_the_training_recipe`` fails until the weights are regenerated, and says how.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from paths import REPO
from qbench import machine
from qbench.data import scene_frames
from qbench.models import MODELS, mnist_cnn, shipped
from qbench.pipeline import open_session

TRAINED = ["mnist_cnn", "deeplab_scenes"]


@pytest.fixture(scope="module")
def session():
    return open_session()


@pytest.fixture(scope="module")
def ctx(session):
    """What a model spec receives (its ModelContext)."""
    return session.artifacts.context


@pytest.mark.parametrize("model", TRAINED)
def test_the_shipped_weights_match_the_training_recipe(ctx, model):
    spec = MODELS.get(model)
    found = spec.shipped()
    assert found is not None, f"no shipped weights for {model}: {shipped.REGENERATE} {model}"
    problem = shipped.mismatch(found, spec.recipe(ctx))
    assert problem is None, problem


@pytest.mark.parametrize("model", TRAINED)
def test_the_shipped_file_is_the_one_its_manifest_names_and_small(model):
    found = MODELS.get(model).shipped()
    assert found.verify() == found.path
    assert found.manifest["bytes"] == found.path.stat().st_size < 5_000_000
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: whether the weights are committed cannot be told")
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(found.path), str(found.folder / shipped.MANIFEST)],
                             cwd=REPO, capture_output=True, text=True)
    assert tracked.returncode == 0, f"{found.folder} is not committed: {tracked.stderr.strip()}"


def test_a_changed_hyper_parameter_asks_for_new_weights(ctx, monkeypatch):
    spec = MODELS.get("mnist_cnn")
    monkeypatch.setattr(mnist_cnn, "EPOCHS", mnist_cnn.EPOCHS + 1)
    problem = shipped.mismatch(spec.shipped(), spec.recipe(ctx))
    assert problem is not None
    assert f"hyper.epochs: {mnist_cnn.EPOCHS - 1} -> {mnist_cnn.EPOCHS}" in problem
    assert f"{shipped.REGENERATE} mnist_cnn" in problem
    assert spec.key_parts(ctx)["origin"] == "trained"  # and the session trains instead of using stale weights


def test_a_renderer_refactor_that_draws_the_same_frames_keeps_the_weights(tmp_path, monkeypatch):
    """The recipe digests the frames the renderer draws, not its code: with its code changed (here: the digest the
    frames are cached under), the frames are drawn again, and since they come out the same the weights still ship.
    Frames that do change are another recipe."""
    spec = MODELS.get("deeplab_scenes")
    fresh = open_session(cache=str(tmp_path))
    before = spec.recipe(fresh.artifacts.context)
    monkeypatch.setattr(scene_frames, "renderer_digest", lambda: "a refactored renderer")
    assert spec.recipe(fresh.artifacts.context) == before
    assert sum(entry.startswith("data/") for entry in fresh.cache.built) == 2  # the probe, drawn once per digest

    from qbench.data import scenes

    drawn = scenes.make_split
    monkeypatch.setattr(scene_frames, "renderer_digest", lambda: "a renderer that draws differently")
    monkeypatch.setattr(scenes, "make_split", lambda *a: tuple(np.flip(x, 1).copy() for x in drawn(*a)))
    changed = spec.recipe(fresh.artifacts.context)
    assert changed["data"] != before["data"] and shipped.mismatch(spec.shipped(), changed) is not None


def test_retrain_trains_and_says_so(session, ctx):
    spec = MODELS.get("mnist_cnn")
    retrain = open_session(cache=str(session.cache.root), retrain=True).artifacts.context
    assert spec.key_parts(ctx)["origin"] == "shipped" and spec.key_parts(retrain)["origin"] == "trained"
    assert spec.key_parts(retrain)["recipe"] == spec.recipe(ctx)  # the same recipe, trained here


def test_a_shipped_model_is_used_without_tensorflow_or_training_frames(tmp_path):
    """On an empty cache the sources of both built-in models come from the shipped files: TensorFlow is not imported
    and no training frame beyond the recipe's probe is drawn."""
    script = (
        "import sys, json; from qbench.pipeline import open_session; s = open_session(); "
        "facts = {m: s.artifacts.source(m).manifest['origin'] for m in ('mnist_cnn', 'deeplab_scenes')}; "
        "facts['tensorflow'] = 'tensorflow' in sys.modules; facts['built'] = s.cache.built; print(json.dumps(facts))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "QBENCH_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["mnist_cnn"] == facts["deeplab_scenes"] == "shipped"
    assert facts["tensorflow"] is False
    labels = [json.loads((tmp_path / entry / "manifest.json").read_text()).get("parts", {}) for entry in facts["built"]]
    assert not any(p.get("split") == "train" and p.get("frames") == scene_frames.TRAIN_FRAMES for p in labels)


@pytest.mark.parametrize("model", TRAINED)
def test_float32_quality_is_what_the_manifest_recorded(session, model):
    """The manifest records float32's quality as LiteRT computed it on x86_64 XNNPACK when the weights were made; the
    same file converted by the same converter runs the same kernels, so the figures agree exactly.

    The converter's file is the same on every x86_64 CPU for MNIST, not for the segmentation model: TensorFlow folds
    its batch normalisations into the convolutions with the CPU's own vector code, and an AVX2-only AMD EPYC folded a
    few weights to the neighbouring float32 of what the AVX-512 Intel Xeon that made the weights got (another
    sha256; mIoU 0.5533581135 against 0.5533580416, pixel accuracy apart by 1.3e-7: a handful of the 7.9 M pixels
    at an arg-max tie). Then the figures must agree to 1e-5 (~80 pixels); other weights or data move them by 1e-3."""
    recorded = MODELS.get(model).shipped().manifest["float32"]
    if platform.machine() != recorded["arch"]:
        pytest.skip(f"recorded on {recorded['arch']}; this is {platform.machine()}, whose kernels round differently")
    same_file = session.artifacts.tflite(model, "float32").sha256 == recorded["tflite_sha256"]
    result = session.evaluator.result(model, "float32", recorded["device"])
    assert result["eval_samples"] == recorded["eval_samples"]
    assert session.evaluator.data_digest(model) == recorded["eval_data"], "evaluated on other data than recorded"
    got = {key: result[key] for key in recorded["quality"]}
    facts = (f"{model} float32 on {recorded['device']}: {got}, manifest {recorded['quality']} "
             f"(ISA flags here {machine.describe()['isa_flags']}, when made {recorded['isa_flags']})")
    if same_file:
        assert got == recorded["quality"], facts
    else:
        assert got == pytest.approx(recorded["quality"], abs=1e-5, rel=0), "the converter made another float32 " + facts


@pytest.mark.parametrize("model", TRAINED)
def test_results_name_the_weights_they_came_from(session, model):
    info = session.artifacts.source_info(model)
    assert info == {"source": "shipped", "weights_sha256": MODELS.get(model).shipped().sha256}

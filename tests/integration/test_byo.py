"""Your model, your data, end to end: models a test trains on generated data run the benchmark matrix from every
dataset layout, a ready .tflite is scored by fidelity, and every bad input stops the run once, up front.

The benchmark runs go through the real plugin in a child pytest (``pytester.runpytest_subprocess``), with the
suite's own benchmark files, a cache of their own, and pytest-benchmark's JSON read back as a user would. Most
bad-input runs stop at configure time, before any case, and run in this process (``runpytest_inprocess``): the same
checks and the same stderr, without a child's start-up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import byo
from qbench import runtime, tasks
from qbench.measure import evaluate
from qbench.models.imported import parse_model_option
from qbench.pipeline.session import open_session

from paths import BENCHMARKS
MODES = ("float32", "dynamic", "float16", "int8", "int8-float-io", "int16x8")
DEVICES = ("xnnpack", "xnnpack-mt", "builtin", "reference")


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """What a user brings: two trained Keras models and their data in every layout qbench reads."""
    root = tmp_path_factory.mktemp("user")
    x, y = byo.bars(2000, 0)
    xt, yt = byo.bars(300, 1)
    files = SimpleNamespace(root=root, test_labels=yt)
    files.classifier = byo.train_classifier(root / "bars.keras", x, y, epochs=3)
    files.idx = byo.write_idx_set(root / "idx", x, y, xt, yt, compress=True)
    files.npz = root / "bars.npz"
    np.savez(files.npz, x_train=x, y_train=y, x_test=xt, y_test=yt)
    files.images = root / "images"
    byo.write_image_folders(files.images / "train", x[:200], y[:200])
    byo.write_image_folders(files.images / "test", xt, yt, scale=2)  # any size: qbench resizes to 28x28
    sx, sy = byo.shapes(400, 0)
    files.segmenter = byo.train_segmenter(root / "shapes.keras", sx, sy, epochs=6)
    ex, ey = byo.shapes(60, 1)
    files.masks = byo.write_mask_folder(root / "masks", ex, ey)
    files.photos = root / "photos"
    files.photos.mkdir()
    for i, image in enumerate(byo.bars(40, 2)[0]):
        Image.fromarray(image).save(files.photos / f"{i:03d}.png")
    return files


@pytest.fixture
def suite(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    for name in ("test_latency.py", "test_quality.py", "test_size.py"):
        pytester.copy_example(str(BENCHMARKS / name))
    return [f"--qbench-cache={tmp_path / 'cache'}", "-p", "no:cacheprovider", "--benchmark-max-time=0.0005",
            "--benchmark-min-rounds=1", "--benchmark-warmup=off"]


CONVERTER_MODES = "--qbench-modes=" + ",".join(MODES)  # the thesis's converter modes: the whole matrix of issue 9


def run(pytester, suite, models: dict[str, str], *args, inline: bool = False):
    """A child pytest over ``models``; ``inline``: in this process (``pytester.runpytest_inprocess``, as
    test_plugin.py's usage errors run), for a run that must stop before any case: the same configure-time checks,
    without a child's start-up and TensorFlow import (~10 s each)."""
    out = pytester.path / "run.json"
    options = [f"--qbench-model={mid}={text}" for mid, text in models.items()]
    args = args if any(a.startswith("--qbench-modes") for a in args) else (CONVERTER_MODES, *args)
    start = pytester.runpytest_inprocess if inline else pytester.runpytest_subprocess
    result = start(*suite, *options, f"--qbench-models={','.join(models)}", f"--qbench-devices={','.join(DEVICES)}",
                   f"--benchmark-json={out}", *args)
    return result, (json.loads(out.read_text())["benchmarks"] if out.exists() else [])


def by_case(benchmarks) -> dict[tuple, dict]:
    return {(b["extra_info"]["model"], b["extra_info"]["mode"], b["extra_info"]["device"]): b["extra_info"]
            for b in benchmarks}


def test_classifier_runs_the_whole_matrix_from_idx_npz_and_images(pytester, suite, user):
    result, benchmarks = run(pytester, suite, {
        "bars_idx": f"{user.classifier},dataset=idx:{user.idx}",
        "bars_npz": f"{user.classifier},dataset=npz:{user.npz}",
        "bars_img": f"{user.classifier},dataset=images:{user.images},range=0:1",
    })
    # per model: 24 latency + 24 quality + 6 size cases (the scenes-only check is deselected: no scenes model here)
    result.assert_outcomes(passed=3 * (24 + 24 + 6), deselected=1)
    cases = by_case(benchmarks)
    assert set(cases) == {(m, mode, d) for m in ("bars_idx", "bars_npz", "bars_img") for mode in MODES
                          for d in DEVICES}
    for (model, mode, device), info in cases.items():
        assert info["task"] == "classification" and info["eval_samples"] == 300
        assert info["accuracy"] > 0.9, (model, mode, device, info["accuracy"])
        if mode != "float32":
            assert info["top1_agreement"] > 0.95 and info["within_budget"] is True
    # the same images and labels from IDX and from the .npz: the same predictions, bit for bit
    for mode in MODES:
        for device in DEVICES:
            idx, npz = cases[("bars_idx", mode, device)], cases[("bars_npz", mode, device)]
            assert idx["predictions_sha256"] == npz["predictions_sha256"] and idx["accuracy"] == npz["accuracy"]


def test_segmenter_runs_the_whole_matrix_from_masks(pytester, suite, user):
    result, benchmarks = run(pytester, suite, {"shapes": f"{user.segmenter},dataset=masks:{user.masks}"})
    result.assert_outcomes(passed=24 + 24 + 6, deselected=1)
    cases = by_case(benchmarks)
    assert len(cases) == 24
    for info in cases.values():
        assert info["task"] == "segmentation"
        assert set(info["per_class_iou"]) == set(byo.SEG_CLASSES)
        assert info["miou"] > 0.8 and info["pixel_accuracy"] > info["chance_floor"]


def test_ready_tflite_with_unlabelled_inputs_runs_with_fidelity(pytester, suite, user, tmp_path):
    spec = parse_model_option(f"bars={user.classifier},dataset=inputs:{user.photos},range=0:1")
    model = tmp_path / "bars_float32.tflite"
    shutil.copyfile(open_session(cache=str(tmp_path / "cache"), models=[spec]).artifacts.tflite("bars", "float32").path,
                    model)
    samples = tmp_path / "samples"
    result, benchmarks = run(pytester, suite, {"ready": f"{model},dataset=inputs:{user.photos},range=0:1"},
                             "--qbench-modes=float32,aeq-int8,int8", f"--qbench-samples={samples}", "-rs")
    # float32 and ai-edge-quantizer's int8 run (4 devices x latency + quality, and size); the converter's int8
    # cannot re-quantize a .tflite and says so in each of its 9 cases (the scenes check is deselected)
    result.assert_outcomes(passed=2 * (4 + 4 + 1), skipped=9, deselected=1)
    result.stdout.fnmatch_lines(["*ready is a ready .tflite: TFLiteConverter needs*"])
    cases = by_case(benchmarks)
    assert {mode for _, mode, _ in cases} == {"float32", "aeq-int8"}
    for (_, mode, _), info in cases.items():
        assert info["task"] == "fidelity" and info["eval_samples"] == 32
        assert info["outputs_vary"] is True if mode == "float32" else info["snr_db"] > 20
    assert (samples / "ready" / "fidelity-0000.png").stat().st_size > 10_000


def test_fidelity_gate_fails_a_damaged_weight_tensor_and_passes_the_real_model(user, tmp_path):
    ws = open_session(cache=str(tmp_path / "cache"), models=[
        parse_model_option(f"bars={user.classifier},dataset=inputs:{user.photos},range=0:1")])
    task, data = tasks.get("fidelity"), ws.evaluator.scored_set("bars")
    reference = ws.evaluator.evaluation("bars", "float32", "builtin")
    int8 = ws.artifacts.tflite("bars", "int8").path
    damaged = tmp_path / "damaged-int8.tflite"
    damaged.write_bytes(byo.damage_weights(int8.read_bytes()))
    verdicts = {}
    for name, path in (("real", int8), ("damaged", damaged)):
        result = evaluate(runtime.open_runner(path, runtime.get("builtin")), data, task, 16, reference.predictions).result
        verdicts[name] = (result, task.judge(result, reference.result, "8bit", {}, is_reference=False))
    assert not verdicts["real"][1].failures and verdicts["real"][0]["snr_db"] > 30
    result, verdict = verdicts["damaged"]
    assert result["snr_db"] < 1 and verdict.failures and "below the 1.0 dB floor" in verdict.failures[0]


# ---- bad inputs: one usage error before any case runs, nothing half-written --------------------------------

def _no_partial_entries(cache: Path) -> None:
    assert not any((cache / "tmp").iterdir()) if (cache / "tmp").exists() else True
    for manifest in cache.glob("*/*/manifest.json"):
        assert (manifest.parent / json.loads(manifest.read_text())["file"]).is_file()


@pytest.mark.parametrize("case", ["truncated-idx", "labels-not-ids", "too-few-classes", "unshapeable-inputs",
                                  "truncated-tflite", "nan-in-x_train"])
def test_bad_user_data_is_one_usage_error_before_any_case(pytester, suite, user, tmp_path, case):
    if case == "truncated-idx":
        broken = shutil.copytree(user.idx, tmp_path / "idx")
        path = broken / "t10k-images-idx3-ubyte.gz"
        path.write_bytes(path.read_bytes()[:-40])
        model, named, fix = f"{user.classifier},dataset=idx:{broken}", str(path), "copy it again"
    elif case == "labels-not-ids":  # one-hot labels where class ids are expected
        path = tmp_path / "onehot.npz"
        x, y = byo.bars(50, 3)
        np.savez(path, x=x, y=np.eye(10, dtype=np.uint8)[y])
        model, named, fix = f"{user.classifier},dataset=npz:{path}", str(path), "give integer class ids"
    elif case == "nan-in-x_train":  # one pixel of one training sample: TFLiteConverter's int8 calibration segfaulted
        path = tmp_path / "nan.npz"
        x, y = byo.bars(300, 7)
        x = x.astype(np.float32) / 255
        x[123, 4, 5] = np.nan
        np.savez(path, x_train=x[:250], y_train=y[:250], x_test=x[250:], y_test=y[250:])
        model, named, fix = f"{user.classifier},dataset=npz:{path}", f"{path}: NaN values in array x_train, first in " \
            "sample 123", "drop or repair those samples"
    elif case == "too-few-classes":
        x, y = byo.bars(60, 4)
        keep = y < 3
        folder = byo.write_image_folders(tmp_path / "three", x[keep], y[keep])
        model, named, fix = f"{user.classifier},dataset=images:{folder},range=0:1", str(folder), "its own classes"
    elif case == "unshapeable-inputs":
        path = tmp_path / "inputs.npz"
        np.savez(path, x=np.zeros((20, 30, 30), np.float32))
        model, named, fix = f"{user.classifier},dataset=inputs:{path}", str(path), "never resized"
    else:
        path = tmp_path / "cut.tflite"
        ws = open_session(cache=str(tmp_path / "c"), models=[parse_model_option(
            f"bars={user.classifier},dataset=inputs:{user.photos}")])
        path.write_bytes(ws.artifacts.tflite("bars", "float32").path.read_bytes()[:3000])
        model, named, fix = f"{path},dataset=inputs:{user.photos}", str(path), "complete"
    # in process, but the cases whose bad input once crashed the converter or may crash a native reader (NaN
    # calibration, a truncated flatbuffer): a regression there must fail this test, not the xdist worker
    inline = case not in ("nan-in-x_train", "truncated-tflite")
    result, benchmarks = run(pytester, suite, {"mine": model}, inline=inline)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    err = result.stderr.str()
    assert named in err and "fix:" in err and fix in err, err
    assert err.count("fix:") == 1 and "Traceback" not in err and not benchmarks
    _no_partial_entries(tmp_path / "cache")

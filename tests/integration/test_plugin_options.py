"""The README's pytest options in real runs (pytester, as test_plugin.py): ``--qbench-eval-limit``,
``--qbench-samples``, ``--qbench-bundle`` and the per-architecture ``--benchmark-autosave`` folder.

Each run uses the real benchmark file ``benchmarks/test_latency.py`` where results are checked, on MNIST with a
warm cache, in a subprocess (pytest-benchmark and the plugin keep process-wide state).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from pytest_benchmark.utils import get_machine_id

from qbench.bundle import write_bundle
from qbench.versions import emulated

from paths import BENCHMARKS
MODEL = "mnist_cnn"


@pytest.fixture
def suite(pytester, qbench, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    for mode in ("float32", "int8"):
        qbench.artifacts.tflite(MODEL, mode)  # warm the cache these runs use
    return [f"--qbench-cache={qbench.cache.root}", "-p", "no:cacheprovider", f"--qbench-models={MODEL}",
            "--benchmark-max-time=0.01", "--benchmark-min-rounds=3"]


def results(path: Path) -> dict[str, dict]:
    return {b["name"]: b["extra_info"] for b in json.loads(path.read_text())["benchmarks"]}


def test_eval_limit_scores_quality_on_the_first_n_samples(pytester, suite, qbench):
    pytester.copy_example(str(BENCHMARKS / "test_latency.py"))
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(*suite, "--qbench-modes=float32,int8", "--qbench-devices=builtin",
                                           "--qbench-eval-limit=100", f"--benchmark-json={out}")
    result.assert_outcomes(passed=2)
    data = qbench.artifacts.eval_set(MODEL)
    for name, info in results(out).items():
        assert info["eval_samples"] == 100, name
        runner = qbench.evaluator.runner(MODEL, info["mode"], "builtin")
        runner.set_input(data.x[:100])
        runner.invoke()
        assert info["accuracy"] == np.mean(runner.output().argmax(1) == data.y[:100]), name


def test_eval_limit_below_one_is_a_usage_error(pytester, suite):
    result = pytester.runpytest_subprocess(*suite, "--qbench-eval-limit=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "at least 1" in result.stderr.str()


def test_samples_are_drawn_after_the_run_on_the_first_device(pytester, suite, tmp_path):
    pytester.makepyfile(test_quality="""
        def test_quality(qbench, qbench_model, qbench_mode, qbench_device):
            assert qbench.evaluator.result(qbench_model, qbench_mode, qbench_device)["accuracy"] > 0.97
    """)
    out = tmp_path / "samples"
    result = pytester.runpytest_subprocess(*suite, "--qbench-modes=float32,int8", "--qbench-devices=builtin,xnnpack",
                                           f"--qbench-samples={out}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"*qbench: wrote 1 sample image(s) to {out}*"])
    (png,) = (out / MODEL).iterdir()  # the digits grid of Figure 5.7, all modes in one picture
    image = matplotlib.image.imread(png)
    assert png.suffix == ".png" and min(image.shape[:2]) > 200 and image[..., :3].var() > 0


def test_a_bundle_runs_through_the_plugin_without_cache_or_tensorflow(pytester, suite, qbench, tmp_path):
    bundle = write_bundle(qbench, [MODEL], ["int8"], tmp_path / "bundle")
    manifest = json.loads((bundle / "manifest.json").read_text())
    pytester.copy_example(str(BENCHMARKS / "test_latency.py"))
    out = pytester.path / "out.json"
    empty_cache = tmp_path / "no-cache"
    args = [a for a in suite if not a.startswith("--qbench-cache")] + [f"--qbench-cache={empty_cache}"]
    result = pytester.runpytest_subprocess(*args, f"--qbench-bundle={bundle}", "--qbench-devices=builtin",
                                           f"--benchmark-json={out}")
    result.assert_outcomes(passed=2)  # int8 and the float32 baseline the bundle carries with it
    result.stdout.fnmatch_lines(["*0 artifact(s) built and * evaluation(s) run this session, TensorFlow not imported*"])
    infos = results(out)
    assert set(infos) == {f"test_invoke[{MODEL}-{mode}-builtin]" for mode in ("float32", "int8")}
    for info in infos.values():
        assert info["model_sha256"] == manifest["models"][MODEL]["tflite"][info["mode"]]["sha256"]
    assert not any(empty_cache.rglob("*.tflite"))
    refused = pytester.runpytest_subprocess(*args, f"--qbench-bundle={bundle}", "--qbench-modes=float16")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert "float16" in refused.stderr.str() and "int8" in refused.stderr.str()  # what it lacks, what it has


def test_autosave_goes_to_a_folder_per_architecture(pytester, suite):
    """An x86 laptop and a (emulated) Pi saving into one .benchmarks/ must not share a folder."""
    pytester.makepyfile(test_b="def test_b(benchmark):\n    benchmark(sum, [1, 2])\n")
    store = pytester.path / "store"
    result = pytester.runpytest_subprocess(*suite, "--benchmark-autosave", f"--benchmark-storage=file://{store}")
    result.assert_outcomes(passed=1)
    (folder,) = store.iterdir()
    assert folder.name == f"{get_machine_id()}-{platform.machine()}" + ("-emulated" if emulated() else "")
    (saved,) = folder.glob("0001_*.json")
    assert json.loads(saved.read_text())["machine_info"]["qbench"]["arch"] == platform.machine()


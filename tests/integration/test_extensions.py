"""A new entry on every axis is one module plus one registration: the worked examples in ``tests/extensions/`` (a
dataset kind, a task, a quantization backend with its mode, a device with its runtime) are imported by a conftest and
run through the real plugin like any built-in entry -- warm-up workers included, which import them too."""

from __future__ import annotations

import json

import tiny_tflite
from paths import BENCHMARKS, REPO

EXTENSIONS = REPO / "tests" / "extensions"
TOYS = ("toy_dataset", "toy_task", "toy_backend", "toy_device")


def test_a_new_dataset_task_backend_and_device_run_through_the_plugin(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    for name in TOYS:
        pytester.copy_example(str(EXTENSIONS / f"{name}.py"))
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]\n'
                          f"import {', '.join(TOYS)}  # noqa: F401  (each registers itself)\n")
    pytester.makeini("[pytest]\n")
    for name in ("test_latency.py", "test_quality.py", "test_size.py", "test_contract.py"):
        pytester.copy_example(str(BENCHMARKS / name))
    model, out = pytester.path / "toy.tflite", pytester.path / "run.json"
    model.write_bytes(tiny_tflite.dense_float())
    result = pytester.runpytest_subprocess(
        f"--qbench-cache={tmp_path / 'cache'}", "-p", "no:cacheprovider", "-rs",
        f"--qbench-model=toy={model},dataset=toy-gradients", "--qbench-models=toy",
        "--qbench-modes=float32,toy-weight-float16", "--qbench-devices=toy-reference,xnnpack",
        "--benchmark-max-time=0.02", "--qbench-passes=6", f"--benchmark-json={out}")
    # latency and quality on 2 devices x 2 modes, size x 2, the toy mode's contract; a ready .tflite's float32 has
    # no mode's contract to meet (it skips, saying so); the scenes-only check is deselected
    result.assert_outcomes(passed=4 + 4 + 2 + 1, skipped=1, deselected=1)
    cases = {(b["extra_info"]["mode"], b["extra_info"]["device"]): b["extra_info"]
             for b in json.loads(out.read_text())["benchmarks"]}
    assert set(cases) == {(m, d) for m in ("float32", "toy-weight-float16") for d in ("toy-reference", "xnnpack")}
    toy = cases["toy-weight-float16", "toy-reference"]
    assert toy["task"] == "toy-agreement" and toy["toy_agreement"] >= 0.95 and toy["within_budget"] is True
    assert toy["backend"]["kernels"] == "reference" and toy["size_ratio"] < 0.6  # float16 weights: about half
    assert toy["eval_samples"] == 64  # the toy kind's evaluation split
    result.stdout.fnmatch_lines(["qbench: toy on toy-reference (budget: top-1 agreement >= 0.95)*"])

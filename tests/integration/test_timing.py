"""Interleaved timing through the real plugin (pytester): pytest-benchmark's statistics are the interleaved rounds,
the passes really alternate the modes in time, ratios carry their intervals, ``pytest-benchmark compare`` still
reads the saved runs, and the qbench summary ends the terminal output."""

from __future__ import annotations

import json
import subprocess

import pytest

from paths import BENCHMARKS

MODES = ("float32", "dynamic", "int8")


@pytest.fixture
def run(pytester, qbench, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    pytester.copy_example(str(BENCHMARKS / "test_latency.py"))
    for mode in MODES:
        qbench.artifacts.tflite("mnist_cnn", mode)

    def go(name: str, *args: str):
        out = pytester.path / f"{name}.json"
        result = pytester.runpytest_subprocess(
            f"--qbench-cache={qbench.cache.root}", "-p", "no:cacheprovider", "--qbench-models=mnist_cnn",
            f"--qbench-modes={','.join(MODES)}", "--qbench-devices=xnnpack", "--benchmark-max-time=0.05",
            "--benchmark-min-rounds=3", f"--benchmark-json={out}", *args)
        result.assert_outcomes(passed=len(MODES))
        return result, json.loads(out.read_text())

    return go


def test_each_case_reports_its_interleaved_rounds_as_its_statistics(run):
    _, doc = run("a", "--qbench-passes=8")
    for bench in doc["benchmarks"]:
        timing, stats = bench["extra_info"]["timing"], bench["stats"]
        assert timing["scheme"] == "interleaved" and timing["passes"] == 8 and timing["modes"] == list(MODES)
        assert stats["rounds"] == sum(timing["rounds_per_pass"]) == len(stats["data"])
        assert stats["iterations"] == timing["iterations"]
        assert min(timing["pass_medians_s"]) >= stats["min"] and max(timing["pass_medians_s"]) <= stats["max"]
        if bench["extra_info"]["mode"] != "float32":
            ratio = bench["extra_info"]["latency_ratio"]
            assert ratio["vs"] == "float32" and ratio["low"] <= ratio["estimate"] <= ratio["high"]
            assert ratio["passes"] == 8 and ratio["confidence"] == 0.95


def test_the_passes_alternate_the_modes_in_time(run):
    _, doc = run("a")
    groups = {b["extra_info"]["timing"]["group"] for b in doc["benchmarks"]}
    assert len(groups) == 1
    blocks = sorted((start, p, b["extra_info"]["mode"]) for b in doc["benchmarks"]
                    for p, start in enumerate(b["extra_info"]["timing"]["block_start_s"]))
    passes = [p for _, p, _ in blocks]
    assert passes == sorted(passes), "a mode's block of one pass started after a block of the next pass"
    per_pass = [[mode for _, q, mode in blocks if q == p] for p in range(max(passes) + 1)]
    assert all(sorted(modes) == sorted(MODES) for modes in per_pass)
    assert len({tuple(modes) for modes in per_pass}) > 1, "every pass timed the modes in the same order"


def test_pytest_benchmark_compare_reads_two_saved_runs(run, pytester):
    run("a")
    run("b")
    proc = subprocess.run(["pytest-benchmark", "compare", str(pytester.path / "a.json"), str(pytester.path / "b.json"),
                           "--group-by=group", "--columns=median,iqr,rounds"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("test_invoke[mnist_cnn-int8-xnnpack]") == 2


def test_the_summary_is_the_last_thing_on_the_terminal(run):
    result, _ = run("a")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["qbench: mnist_cnn on xnnpack (budget: accuracy*",
                                 "*mode*size*Accuracy (%) (vs float32)*latency, x float32*budget*",
                                 "*int8 *KiB*(*)*µs, x* [[]*, *]*yes", "*fastest within budget: *", "*smallest within budget: *"])
    assert out.index("qbench: mnist_cnn on xnnpack") > out.index("benchmark 'mnist_cnn on xnnpack'")

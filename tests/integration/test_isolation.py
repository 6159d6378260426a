"""What a bad build costs: its own cases, not the session (issue: a native crash costs one case).

Each test runs the real plugin on a toy ready .tflite with the fault modes of ``tests/faults.py``: a build that
crashes its process, one that fills the disk, one that never ends (the run is killed under it), one whose file
XNNPACK refuses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

import tiny_tflite
from paths import BENCHMARKS, REPO


@pytest.fixture
def toy(pytester, monkeypatch, tmp_path):
    """A pytester suite with the fault backend (registered in its processes only: this one must not see the fault
    modes), and the toy model's --qbench-model option."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    monkeypatch.setenv("QBENCH_FAULTS", str(tmp_path))
    pytester.syspathinsert(str(REPO / "tests"))
    pytester.makeconftest('import sys\nsys.path.insert(0, %r)\npytest_plugins = ["qbench.plugin"]\n'
                          "import faults  # noqa: F401  (registers the fault modes)\n" % str(REPO / "tests"))
    pytester.makeini("[pytest]\n")
    for name in ("test_latency.py", "test_quality.py", "test_size.py", "test_contract.py"):
        pytester.copy_example(str(BENCHMARKS / name))
    model, data = tmp_path / "toy.tflite", tmp_path / "x.npz"
    model.write_bytes(tiny_tflite.zero_channel_dense())
    np.savez(data, x=np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32))
    return [f"--qbench-cache={tmp_path / 'cache'}", "-p", "no:cacheprovider", "-p", "no:randomly", "-rfs",
            f"--qbench-model=toy={model},dataset=inputs:{data}", "--qbench-models=toy",
            "--benchmark-max-time=0.02", "--qbench-passes=6"]


def _no_partial_entries(cache) -> None:
    assert not any((cache / "tmp").iterdir()), list((cache / "tmp").iterdir())
    for entry in cache.glob("*/*"):
        if entry.parent.name not in ("tmp", "locks", "logs"):
            manifest = json.loads((entry / "manifest.json").read_text())
            assert (entry / manifest["file"]).is_file()


def test_a_native_crash_fails_its_own_cases_and_a_second_run_builds_it(pytester, toy, tmp_path):
    args = [*toy, "--qbench-modes=float32,fault-segv", "--qbench-devices=builtin"]
    result = pytester.runpytest_subprocess(*args)
    out = result.stdout.str()
    # float32: latency, quality, size (its contract skips: a ready file); fault-segv: the same four, failed
    result.assert_outcomes(passed=3, failed=4, skipped=1, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert out.count("making the .tflite toy fault-segv crashed: its worker process") >= 4
    assert "died by SIGSEGV (Segmentation fault)" in out and "faults: about to crash" in out  # its last words
    assert "Fatal Python error: Segmentation fault" in out
    _no_partial_entries(tmp_path / "cache")
    again = pytester.runpytest_subprocess(*args)
    again.assert_outcomes(passed=7, skipped=1, deselected=1)  # the crash was not cached: built this time


def test_a_file_xnnpack_refuses_skips_there_and_runs_elsewhere(pytester, toy):
    result = pytester.runpytest_subprocess(*toy, "--qbench-modes=float32,fault-zero-scale",
                                           "--qbench-devices=xnnpack,builtin")
    out = result.stdout.str()
    # fault-zero-scale on xnnpack: latency and quality skip with XNNPACK's reason (and float32's contract: a ready
    # file); float32's five other cases pass, and fault-zero-scale's on builtin, its size and its contract
    result.assert_outcomes(passed=5 + 4, skipped=2 + 1, deselected=1)
    assert "refuses toy fault-zero-scale: unsupported scale value (0.000000) in channel 1" in out
    assert "the file stores a quantization scale of 0 (tensor 1 'w', channel 1)" in out and "rebuild" not in out


def test_a_full_disk_is_one_usage_error_naming_the_cache_folder(pytester, toy, tmp_path):
    result = pytester.runpytest_subprocess(*toy, "--qbench-modes=float32,fault-enospc", "--qbench-devices=builtin")
    err = result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-3000:]
    assert f"no space is left on the filesystem of the cache folder {tmp_path / 'cache' / 'tflite'}" in err
    assert "while writing toy fault-enospc.tflite" in err and err.count("fix:") == 1 and "Traceback" not in err
    _no_partial_entries(tmp_path / "cache")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_the_run_mid_build_leaves_no_worker(toy, tmp_path, sig, pytester):
    run = subprocess.Popen([sys.executable, "-m", "pytest", *toy, "--qbench-modes=float32,fault-sleep",
                            "--qbench-devices=builtin"], cwd=pytester.path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO / "tests")})
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "sleeping").exists():  # a worker is in the middle of the long build
            assert run.poll() is None and time.monotonic() < deadline, "the build never started"
            time.sleep(0.2)
        worker = int((tmp_path / "sleeping").read_text())
        family = psutil.Process(run.pid).children(recursive=True)
        assert worker in {p.pid for p in family}
        run.send_signal(sig)
        run.wait(30)
        gone, alive = psutil.wait_procs(family, timeout=10)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [p.cmdline() for p in alive]
    finally:
        if run.poll() is None:
            run.kill()

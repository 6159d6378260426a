"""The ``tflm`` device on hand-built files: the arena it reports is TFLM's real minimum, what TFLM refuses or crashes on
skips with TFLM's words (probed in a child process), a damaged file says rebuild, and without the wheel it skips."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import tiny_tflite
from qbench import runtime
from qbench.errors import NotApplicable, QbenchError
from qbench.runtime import tflm
from qbench.runtime.accelerators import DeviceUnavailable

needs_wheel = pytest.mark.skipif(tflm.unavailable_reason() is not None, reason=str(tflm.unavailable_reason()))
DEVICE = runtime.get("tflm")


@pytest.fixture
def dense(tmp_path):
    path = tmp_path / "dense.tflite"
    path.write_bytes(tiny_tflite.dense_float(inputs=64, units=8))
    return path


def _allocates_in_a_child(path, arena: int) -> bool:
    """Whether TFLM allocates ``path`` with ``arena`` bytes, asked of a fresh process (no qbench code involved)."""
    code = ("import sys; from tflite_micro.python.tflite_micro import runtime\n"
            "try: runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))\n"
            "except RuntimeError: sys.exit(3)\n")
    child = subprocess.run([sys.executable, "-c", code, str(path), str(arena)], capture_output=True, timeout=120)
    assert child.returncode in (0, 3), child.stderr.decode()
    return child.returncode == 0


@pytest.mark.parametrize("minimum", [1, 640, 9_000, 9_999, 10_000])
def test_smallest_arena_finds_the_threshold_without_asking_below_half(minimum):
    asked = []

    def allocates(arena: int) -> bool:
        asked.append(arena)
        return arena >= minimum

    found = tflm.smallest_arena(allocates, 10_000)
    assert found == max(minimum, 5_000) and min(asked) >= 5_000  # an arena of a few hundred bytes crashes TFLM
    assert len(asked) < 20


@needs_wheel
def test_the_arena_reported_is_the_real_minimum_and_outputs_match_reference(dense):
    with runtime.open_runner(dense, DEVICE, label="toy float32") as runner:
        footprint = runner.footprint()
        x = np.random.default_rng(1).normal(size=(3, 64)).astype(np.float32)
        got = [runner.map_batches(x, lambda raws: raws[0].copy())]
        runner.set_input(x[:1])
        runner.invoke()
        first = runner.raw_output()
        runner.invoke()  # TFLM reuses the input's arena bytes: the runner writes the input before each invoke
        assert np.array_equal(runner.raw_output(), first)
        assert runner.backend["runtime"] == "tflm" and runner.computation[0] == "tflm"
    arena = footprint["arena_bytes"]
    assert footprint["flash_bytes"] == dense.stat().st_size
    assert footprint["arena_head_bytes"] + footprint["arena_tail_bytes"] == footprint["arena_recorded_bytes"] >= arena
    assert _allocates_in_a_child(dense, arena) and not _allocates_in_a_child(dense, arena - 1)
    with runtime.open_runner(dense, runtime.get("reference")) as reference:
        want = reference.map_batches(x, lambda raws: raws[0].copy(), batch_size=1)
    assert np.array_equal(np.concatenate(got[0]), np.concatenate(want))  # float32 reference kernels, bit for bit


@needs_wheel
def test_an_op_tflm_lacks_skips_with_its_message_naming_model_and_mode(tmp_path):
    path = tmp_path / "custom.tflite"
    path.write_bytes(tiny_tflite.unknown_custom_op())
    with pytest.raises(NotApplicable) as exc:
        runtime.open_runner(path, DEVICE, label="toy int8")
    assert "refuses toy int8: TFLM does not load it: " in exc.value.problem
    assert "Failed to get registration from op code CUSTOM" in exc.value.problem


@needs_wheel
def test_a_damaged_file_is_an_error_that_says_rebuild(tmp_path, dense):
    path = tmp_path / "half.tflite"
    path.write_bytes(dense.read_bytes()[: dense.stat().st_size // 2])
    with pytest.raises(QbenchError) as exc:
        runtime.open_runner(path, DEVICE, label="toy int8")
    assert not isinstance(exc.value, NotApplicable)
    assert "toy int8" in exc.value.problem and "not a complete TFLite model" in exc.value.problem
    assert "on tflm: TFLM does not load it: " in exc.value.problem  # TFLM's own words too
    assert "rebuild" in exc.value.fix


@needs_wheel
def test_a_model_over_the_arena_limit_skips(dense, monkeypatch):
    monkeypatch.setenv(tflm.LIMIT_ENV, "1000")  # it needs 1,200 bytes
    with pytest.raises(NotApplicable, match=r"needs more than the 1,000-byte tensor arena limit .*Failed"):
        runtime.open_runner(dense, DEVICE, label="toy float32")


@needs_wheel
def test_a_crash_in_tflm_is_a_skip_with_the_signal_not_the_end_of_the_session(dense, monkeypatch):
    """An arena of 100 bytes crashes TFLM (SIGSEGV in its allocator): the probe's child dies, this process lives."""
    monkeypatch.setenv(tflm.LIMIT_ENV, "100")
    with pytest.raises(NotApplicable, match="toy float32: a process running TFLM died of SIG"):
        runtime.open_runner(dense, DEVICE, label="toy float32")


def test_a_bad_arena_limit_is_a_usage_error(monkeypatch):
    monkeypatch.setenv(tflm.LIMIT_ENV, "lots")
    with pytest.raises(QbenchError, match="not a positive number of bytes"):
        tflm.arena_limit()


def test_without_the_wheel_the_device_skips_with_the_reason(dense, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tflite_micro" else real(name, *a))
    with pytest.raises(DeviceUnavailable, match="tflite-micro wheel is not installed: it exists only for CPython 3.11 "
                                                "on x86_64 Linux"):
        runtime.open_runner(dense, DEVICE)

"""``qbench gate | consistency | report`` as the README documents them: command lines, exit codes (0 passed,
1 failed the check, 2 unusable input or settings), flag overrides and the config files they read.

The library functions behind them are tested in test_gate.py, test_consistency.py and test_report.py; these
drive ``qbench.cli.main`` with the arguments a user types, on synthetic runs from ``benchjson``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import benchjson
from qbench import cli
from test_consistency import with_outputs

from paths import REPO
ARM_EMU = dict(arch="aarch64", emulated="qemu-aarch64", emulated_cpu="cortex-a72", node="ci-x86")


@pytest.fixture
def runs(tmp_path):
    """A baseline and a current run whose int8 accuracy on xnnpack dropped by 0.01 (the default tolerance
    allows 0.002), and the same run again."""
    base, cur = benchjson.make_run(rounds=20), benchjson.make_run(rounds=20)
    benchjson.find(cur, "mnist_cnn", "int8", "xnnpack")["accuracy"] -= 0.01
    return (benchjson.write(tmp_path / "base.json", base), benchjson.write(tmp_path / "cur.json", cur),
            benchjson.write(tmp_path / "same.json", base))


def gate(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["gate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gate_exits_0_and_prints_the_table_when_nothing_regressed(capsys, runs):
    base, _, same = runs
    code, out, _ = gate(capsys, base, same)
    assert code == 0 and "PASSED: 24 case(s)" in out and "FAIL" not in out


def test_gate_exits_1_naming_the_regression(capsys, runs):
    base, cur, _ = runs
    code, out, _ = gate(capsys, base, cur)
    assert code == 1 and "mnist_cnn int8 xnnpack: accuracy dropped by 0.0100" in out


def test_gate_flags_override_the_defaults(capsys, runs):
    base, cur, _ = runs
    assert gate(capsys, base, cur, "--accuracy-tol", "0.02")[0] == 0
    benchjson.write(cur, benchjson.make_run(rounds=20, devices=("xnnpack", "builtin")))
    assert gate(capsys, base, cur)[0] == 0  # cases only in the baseline are listed, not failed...
    code, out, _ = gate(capsys, base, cur, "--fail-on-missing")
    assert code == 1 and "fail_on_missing" in out  # ...unless asked


@pytest.mark.parametrize("config_file, text", [
    ("pytest.ini", "[pytest]\n\n[qbench:gate]\naccuracy_tol = 0.02\n"),
    ("pyproject.toml", "[tool.qbench.gate]\naccuracy_tol = 0.02\n"),
])
def test_gate_reads_thresholds_from_the_config_dir_and_flags_win(capsys, runs, tmp_path, config_file, text):
    base, cur, _ = runs
    config = tmp_path / "project"
    config.mkdir()
    (config / config_file).write_text(text)
    assert gate(capsys, base, cur, "--config-dir", config)[0] == 0
    assert gate(capsys, base, cur, "--config-dir", config, "--accuracy-tol", "0.005")[0] == 1


def test_gate_reads_the_current_directory_by_default(capsys, runs, tmp_path, monkeypatch):
    base, cur, _ = runs
    (tmp_path / "pytest.ini").write_text("[qbench:gate]\naccuracy_tol = 0.02\n")
    monkeypatch.chdir(tmp_path)
    assert gate(capsys, base, cur)[0] == 0


@pytest.mark.parametrize("args, says", [
    (["--raw", "require"], "x86_64 vs aarch64 emulated"),  # raw latency across architectures: never
    (["--accuracy-tol", "-1"], "must be a number >= 0"),
])
def test_gate_exits_2_on_settings_it_cannot_honour(capsys, tmp_path, args, says):
    base = benchjson.write(tmp_path / "x86.json", benchjson.make_run(rounds=20))
    arm = benchjson.write(tmp_path / "arm.json", benchjson.make_run(rounds=20, **ARM_EMU))
    code, out, err = gate(capsys, base, arm, *args)
    assert code == 2 and err.startswith("qbench: error:") and says in err and "Traceback" not in err


def test_gate_exits_2_on_a_bad_config_file(capsys, runs, tmp_path):
    base, cur, _ = runs
    (tmp_path / "pytest.ini").write_text("[qbench:gate]\naccuracy_tolerance = 0.1\n")
    code, _, err = gate(capsys, base, cur, "--config-dir", tmp_path)
    assert code == 2 and "unknown gate setting 'accuracy_tolerance'" in err


def test_gate_exits_2_on_a_missing_run(capsys, runs, tmp_path):
    code, _, err = gate(capsys, runs[0], tmp_path / "nope.json")
    assert code == 2 and "does not exist" in err


def test_the_installed_command_returns_the_exit_code(runs):
    """``qbench`` is ``qbench.cli:main`` (pyproject.toml); run it as a process, as CI does."""
    base, cur, _ = runs
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "qbench.cli", "gate", str(base), str(cur)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "accuracy_tol" in proc.stdout


# --- consistency ------------------------------------------------------------------------------------------

@pytest.fixture
def two_machines(tmp_path):
    x86 = with_outputs(benchjson.make_run(devices=("xnnpack", "builtin")))
    arm = with_outputs(benchjson.make_run(devices=("xnnpack", "builtin"), **ARM_EMU))
    return tmp_path, x86, arm


def consistency(capsys, a, b) -> tuple[int, str, str]:
    code = cli.main(["consistency", str(a), str(b)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_consistency_exits_0_when_both_machines_compute_the_same(capsys, two_machines):
    tmp_path, x86, arm = two_machines
    code, out, _ = consistency(capsys, benchjson.write(tmp_path / "a.json", x86), benchjson.write(tmp_path / "b.json", arm))
    assert code == 0 and "bit-identical" in out


def test_consistency_exits_1_naming_the_difference(capsys, two_machines):
    tmp_path, x86, arm = two_machines
    info = benchjson.find(arm, "mnist_cnn", "int8", "xnnpack")
    info.update(outputs_xxh3_128="other", output_sample=[10, 200, 37, 6], accuracy=info["accuracy"] - 0.01)
    code, out, _ = consistency(capsys, benchjson.write(tmp_path / "a.json", x86), benchjson.write(tmp_path / "b.json", arm))
    assert code == 1 and "mnist_cnn/int8/xnnpack" in out


def test_consistency_exits_2_when_the_runs_cannot_be_compared(capsys, two_machines):
    tmp_path, x86, _ = two_machines
    other = with_outputs(benchjson.make_run(devices=("reference",)))
    code, _, err = consistency(capsys, benchjson.write(tmp_path / "a.json", x86), benchjson.write(tmp_path / "b.json", other))
    assert code == 2 and "in common" in err
    code, _, err = consistency(capsys, tmp_path / "a.json", tmp_path / "missing.json")
    assert code == 2 and "does not exist" in err


# --- report -----------------------------------------------------------------------------------------------

def test_report_writes_tables_figures_and_index_from_a_folder_of_runs(capsys, tmp_path):
    """(A single run file is test_report.py's ``one_machine``.)"""
    runs = tmp_path / "runs"
    runs.mkdir()
    benchjson.write(runs / "x86.json", benchjson.make_run())
    benchjson.write(runs / "arm.json", benchjson.make_run(devices=("xnnpack", "builtin"), **ARM_EMU))
    out = tmp_path / "report"
    assert cli.main(["report", str(runs), "--out", str(out)]) == 0  # a folder of runs, as .ci/run passes
    printed = capsys.readouterr().out
    assert printed.startswith((out / "tables.md").read_text()) and "| aarch64" in printed
    assert len(list(out.glob("*.png"))) >= 8 and (out / "index.html").exists()
    assert f"wrote {len(list(out.glob('*.png')))} figures, {out / 'index.html'}" in printed


def test_report_exits_2_on_a_run_it_cannot_read(capsys, tmp_path):
    (tmp_path / "empty.json").write_text("")
    assert cli.main(["report", str(tmp_path / "empty.json"), "--out", str(tmp_path / "r")]) == 2
    assert "empty.json is empty" in capsys.readouterr().err
    assert not (tmp_path / "r" / "index.html").exists()

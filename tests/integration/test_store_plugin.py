"""``pytest --qbench-store``, driven for real through pytester: alone, next to --benchmark-json, and refused early."""

from __future__ import annotations

import json
import subprocess

import pytest

from qbench.store import api
from qbench.store.document import run_hash

from paths import BENCHMARKS
FAST = ("--qbench-models=mnist_cnn", "--qbench-modes", "float32,int8", "--qbench-devices", "builtin",
        "--benchmark-max-time=0.01", "--benchmark-min-rounds=3")


@pytest.fixture
def suite(pytester, qbench, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # else pytest-benchmark disables itself in the child
    for mode in ("float32", "int8"):
        qbench.artifacts.tflite("mnist_cnn", mode)  # warm the cache this run uses
    pytester.makeconftest('pytest_plugins = ["qbench.plugin"]')
    pytester.makeini("[pytest]\n")
    pytester.copy_example(str(BENCHMARKS / "test_latency.py"))
    return [f"--qbench-cache={qbench.cache.root}", "-p", "no:cacheprovider"]


def test_the_option_alone_stores_the_session_with_raw_samples(pytester, suite):
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=pytester.path,
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")  # the suite run from a checkout: pytest-benchmark records its commit
    git("add", "-A")
    git("commit", "-qm", "suite")
    store = pytester.path / "results" / "qbench.db"
    result = pytester.runpytest_subprocess(*suite, *FAST, f"--qbench-store={store}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*qbench: stored run * (2 benchmarks) in sqlite:///*qbench.db*"])
    (run,) = api.load_selected(str(store))
    assert {k[1] for k in run.cases} == {"float32", "int8"}
    assert all(len(c.samples) >= 3 for c in run.cases.values())  # stats.data, as --benchmark-json keeps it
    assert run.path.name.startswith("pytest session at ")
    assert run.commit is not None and run.commit.id == git("rev-parse", "HEAD") and not run.commit.dirty


def test_with_benchmark_json_the_stored_run_is_the_file(pytester, suite):
    store, out = pytester.path / "s.db", pytester.path / "run.json"
    result = pytester.runpytest_subprocess(*suite, *FAST, f"--qbench-store=sqlite:///{store}",
                                           f"--benchmark-json={out}")
    result.assert_outcomes(passed=2)
    _, (again,) = api.import_files([out], store)
    assert not again.created, "importing the --benchmark-json file finds the session's run already stored"
    assert again.run_hash == run_hash(json.loads(out.read_text()))
    assert len(api.load_selected(str(store))) == 1


@pytest.mark.parametrize("url, problem", [
    ("mysql://db/x", "not a store qbench can use"),
    ("postgresql://nobody@127.0.0.1:1/qbench", "cannot open the store"),
    ("{tmp}/s.db?latest=1", "a selector (latest=1) makes no sense"),
])
def test_a_store_that_cannot_work_stops_the_session_before_it_runs(pytester, suite, url, problem):
    result = pytester.runpytest_subprocess(*suite, *FAST, f"--qbench-store={url.format(tmp=pytester.path)}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert problem in result.stderr.str() and "fix:" in result.stderr.str()
    assert "passed" not in result.stdout.str()

"""Reading runs from a store: report, gate and consistency give what they give from the files; trend
figures with the gate's limits; ``qbench store import | list | export`` and the CLI's store sources."""

from __future__ import annotations

import html
import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import pytest  # noqa: E402

import benchjson  # noqa: E402
from pgserver import store_url  # noqa: E402, F401  (fixture)
from qbench import cli  # noqa: E402
from qbench.consistency import compare  # noqa: E402
from qbench.gate import GateConfig, gate  # noqa: E402
from qbench.report import write_report  # noqa: E402
from qbench.sources import load_run  # noqa: E402
from qbench.report.trends import history, render_trends  # noqa: E402
from qbench.store import api  # noqa: E402
from qbench.store.document import run_hash  # noqa: E402

ARM = dict(arch="aarch64", emulated="qemu-aarch64", emulated_cpu="cortex-a72", node="pi-emu",
           devices=("xnnpack", "builtin"), eval_limit=1000)


def dated(doc: dict, day: int, commit: str) -> dict:
    doc["datetime"] = f"2026-11-{day:02d}T01:00:00+00:00"
    doc["commit_info"] = {**doc["commit_info"], "id": commit, "time": f"2026-11-{day:02d}T00:00:00+00:00"}
    return doc


@pytest.fixture
def tables_only(monkeypatch):
    """Skip the per-run figures (tested in test_report.py; drawn from the same records) to keep these tests fast."""
    monkeypatch.setattr("qbench.report.figures.render_figures", lambda runs, out: ([], []))


@pytest.fixture
def two_machines(tmp_path):
    """An x86_64 run of both models and an emulated arm64 run, oldest first (the order a store gives)."""
    x86 = dated(benchjson.make_run(models=("mnist_cnn", "deeplab_scenes"), rounds=20), 20, "a11a564")
    arm = dated(benchjson.make_run(**ARM, rounds=20), 21, "b22b675")
    return [benchjson.write(tmp_path / "x86_64.json", x86), benchjson.write(tmp_path / "arm64.json", arm)]


def test_report_from_a_store_equals_the_report_from_the_files(store_url, two_machines, tmp_path, tables_only):
    api.import_files(two_machines, store_url)
    files = write_report(two_machines, tmp_path / "from-files")
    stored = write_report([store_url], tmp_path / "from-store")
    assert stored.markdown == files.markdown
    assert stored.tables.read_text() == files.tables.read_text()
    assert "x86_64.json" in stored.markdown and "aarch64 cortex-a72 (emulated)" in stored.markdown


def test_gate_and_consistency_from_a_store_equal_the_files(store_url, two_machines, tmp_path):
    x86, arm = two_machines
    newer = json.loads(x86.read_text())
    benchjson.scale_latency(newer, 1.5, mode="int8", device="xnnpack")
    current = benchjson.write(tmp_path / "current.json", dated(newer, 22, "c33c786"))
    api.import_files([x86, arm], store_url)
    config = GateConfig(raw="off")
    from_files = gate(x86, current, config)
    from_store = gate(store_url + "?machine=ci-x86&latest=1", current, config)
    assert from_store.table == from_files.table and not from_store.passed
    assert {f.rule for f in from_store.failures} == {"latency_ratio_tol"}
    assert compare(store_url + "?machine=ci-x86", store_url + "?machine=pi-emu").table == compare(x86, arm).table


def test_gate_against_the_latest_run_of_this_machine(store_url, tmp_path, monkeypatch, capsys):
    """The CI use: the newest run, stored or not yet, gated against this machine's latest stored run."""
    monkeypatch.setattr("platform.node", lambda: "ci-x86")
    monkeypatch.setattr("qbench.machine.describe", lambda: {"arch": "x86_64", "emulated": False})
    runs = [dated(benchjson.make_run(seed=i, rounds=20), 20 + i, f"{i}aaa000") for i in range(3)]
    files = [benchjson.write(tmp_path / f"r{i}.json", r) for i, r in enumerate(runs)]
    benchjson.find(runs[2], "mnist_cnn", "int8", "builtin")["accuracy"] -= 0.01
    worse = benchjson.write(tmp_path / "worse.json", runs[2])
    assert cli.main(["store", "import", "--store", store_url, *map(str, files[:2])]) == 0
    assert cli.main(["gate", store_url + "?machine=this&latest=1", str(files[2]), "--raw", "off"]) == 0
    assert "r1.json" in capsys.readouterr().out  # the baseline is the latest stored run of this machine
    assert cli.main(["gate", store_url + "?machine=this&latest=1", str(worse), "--raw", "off"]) == 1
    assert "FAIL: accuracy_tol" in capsys.readouterr().out
    assert cli.main(["store", "import", "--store", store_url, str(files[2])]) == 0
    capsys.readouterr()
    # once the current run is stored too, the run before it is latest=1&skip=1
    assert cli.main(["gate", store_url + "?machine=this&latest=1&skip=1",
                     store_url + "?machine=this&latest=1", "--raw", "off"]) == 0
    out = capsys.readouterr().out
    assert "baseline: r1.json" in out.replace(str(tmp_path) + "/", "") and "PASSED" in out


def test_trend_figures_over_stored_runs_draw_the_gate_limits(store_url, tmp_path, tables_only):
    runs = []
    for i in range(4):
        doc = dated(benchjson.make_run(devices=("xnnpack", "builtin"), seed=i, rounds=20), 20 + i, f"{i}bbb000")
        if i == 3:  # one regression the latency-ratio gate catches: int8 on xnnpack 1.6x slower
            benchjson.scale_latency(doc, 1.6, mode="int8", device="xnnpack")
        runs.append(benchjson.write(tmp_path / f"t{i}.json", doc))
    runs.append(benchjson.write(tmp_path / "other.json", dated(benchjson.make_run(**ARM), 25, "9ccc000")))
    api.import_files(runs, store_url)
    result = write_report([store_url], tmp_path / "report", GateConfig(latency_ratio_tol=0.25))
    trends = {p.name: p for p in result.figures if "-trend-" in p.name}
    assert set(trends) == {f"mnist_cnn-trend-{s}.png" for s in ("latency-ratio", "latency", "accuracy", "size")}
    for png in trends.values():
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 300 and image[..., :3].var() > 0
    captions = _captions(result)
    assert "over 4 runs per machine" in captions["mnist_cnn-trend-latency-ratio.png"]
    assert "latency_ratio_tol = 25%; 1 beyond it" in captions["mnist_cnn-trend-latency-ratio.png"]
    assert "; 0 beyond it" in captions["mnist_cnn-trend-accuracy.png"]


def _captions(result) -> dict[str, str]:
    """Each figure's caption as index.html shows it."""
    pairs = re.findall(r'<img src="([^"]+)" alt="([^"]+)">', result.index.read_text())
    return {src: html.unescape(alt) for src, alt in pairs}


def test_quality_on_fewer_samples_is_not_gated_against_the_full_set(tmp_path, tables_only):
    full = [dated(benchjson.make_run(devices=("builtin",), seed=i), 20 + i, f"{i}ddd000") for i in range(2)]
    reduced = dated(benchjson.make_run(devices=("builtin",), eval_limit=1000, seed=5), 23, "5ddd000")
    for entry in reduced["benchmarks"]:
        entry["extra_info"]["accuracy"] -= 0.01  # 1000 samples score differently: not a regression
    paths = [benchjson.write(tmp_path / f"q{i}.json", d) for i, d in enumerate([*full, reduced])]
    captions = _captions(write_report(paths, tmp_path / "report"))
    assert "; 0 beyond it" in captions["mnist_cnn-trend-accuracy.png"]


def test_history_orders_by_commit_time_when_every_run_knows_it(tmp_path):
    late_commit = dated(benchjson.make_run(seed=1), 20, "1111111")  # measured first, committed last
    late_commit["commit_info"]["time"] = "2026-11-25T00:00:00+00:00"
    early_commit = dated(benchjson.make_run(seed=2), 21, "2222222")
    paths = [benchjson.write(tmp_path / "a.json", late_commit), benchjson.write(tmp_path / "b.json", early_commit)]
    (ordered,) = history([load_run(p) for p in paths]).values()
    assert [r.commit.id for r in ordered] == ["2222222", "1111111"]
    del late_commit["commit_info"]
    paths[0] = benchjson.write(tmp_path / "a.json", late_commit)
    (ordered,) = history([load_run(p) for p in paths]).values()
    assert [r.path.name for r in ordered] == ["a.json", "b.json"]  # by run time once one lacks a commit


def test_a_single_run_per_machine_draws_no_trend(two_machines, tmp_path):
    written, skipped = render_trends([load_run(p) for p in two_machines], tmp_path)
    assert written == [] and not list(tmp_path.glob("*.png"))
    assert any("no machine has two or more runs" in s for s in skipped)


def test_store_commands(store_url, two_machines, tmp_path, capsys, tables_only):
    assert cli.main(["store", "import", "--store", store_url, *map(str, two_machines)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s) stored, 0 already there" in out
    assert cli.main(["store", "import", "--store", store_url, str(tmp_path)]) == 0  # the folder: both again
    assert "0 run(s) stored, 2 already there" in capsys.readouterr().out
    assert cli.main(["store", "list", "--store", store_url]) == 0
    out = capsys.readouterr().out
    assert "a11a564" in out and "b22b675" in out and "pi-emu" in out and "2 run(s)" in out
    assert cli.main(["store", "list", "--store", store_url + "?machine=aarch64"]) == 0
    assert "1 run(s)" in capsys.readouterr().out
    assert cli.main(["store", "export", "--store", store_url, "--out", str(tmp_path / "out")]) == 0
    exported = sorted((tmp_path / "out").glob("*.json"))
    assert len(exported) == 2
    assert {run_hash(json.loads(p.read_text())) for p in exported} == \
           {run_hash(json.loads(p.read_text())) for p in two_machines}
    assert cli.main(["report", store_url + "?machine=pi-emu", str(two_machines[0]), "--out", str(tmp_path / "r")]) == 0


def test_store_command_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": [')
    assert cli.main(["store", "import", "--store", str(tmp_path / "s.db"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "truncated" in err and "fix:" in err
    assert not (tmp_path / "s.db").exists()
    assert cli.main(["store", "list", "--store", str(tmp_path / "none.db")]) == 2
    assert "no store at" in capsys.readouterr().err
    assert cli.main(["gate", str(tmp_path / "none.db"), str(bad)]) == 2  # not a store file: read as a run file
    assert "does not exist" in capsys.readouterr().err

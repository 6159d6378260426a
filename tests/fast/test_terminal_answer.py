"""The terminal summary after a run (``plugin._answer``): it is the answer, so when qbench's own cases cannot be read
into it, the terminal says why instead of leaving it out; another suite's benchmarks get no qbench line at all."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import benchjson
from qbench import plugin


def _answer(monkeypatch, tmp_path, doc):
    monkeypatch.setattr(plugin, "session_document", lambda config: (doc, None))
    return plugin._answer(SimpleNamespace(rootpath=tmp_path))


def test_a_run_of_qbench_cases_gets_its_verdict_lines(monkeypatch, tmp_path):
    out = _answer(monkeypatch, tmp_path, benchjson.make_run())
    assert any(line.startswith("qbench: mnist_cnn on ") for line in out), out


def test_qbench_cases_the_report_cannot_read_say_so(monkeypatch, tmp_path):
    doc = benchjson.make_run()
    doc["benchmarks"].append(copy.deepcopy(doc["benchmarks"][0]))  # the same case twice: not a readable run
    out = _answer(monkeypatch, tmp_path, doc)
    assert len(out) == 1 and out[0].startswith("qbench: no summary: ") and "twice" in out[0], out


def test_another_suites_benchmarks_get_no_qbench_line(monkeypatch, tmp_path):
    doc = benchjson.make_run()
    for b in doc["benchmarks"]:
        b["extra_info"] = {}
    doc["benchmarks"].append(copy.deepcopy(doc["benchmarks"][0]))
    assert _answer(monkeypatch, tmp_path, doc) == []

"""Cached evaluations (qbench/evaluations.py): reused only when nothing that determines them changed, recomputed
identically on --qbench-reevaluate, and the warm-up that fills the cache before timing (qbench/warmup.py)."""

from __future__ import annotations

import shutil
import time

import pytest

from qbench import config, evaluations, warmup
from qbench.pipeline import Session, open_session

MODEL = "mnist_cnn"


def fresh(qbench, tmp_path, eval_limit: int = 500, **given) -> Session:
    """A session over a copy of the cache's MNIST artifacts, with its own (empty) evaluation cache."""
    root = tmp_path / "cache"
    if not root.exists():
        for mode in ("float32", "int8"):
            entry = qbench.artifacts.tflite(MODEL, mode).path.parent
            shutil.copytree(entry, root / "tflite" / entry.name)
        data = next(p.parent for p in qbench.cache.root.glob("data/*/mnist.npz"))
        shutil.copytree(data, root / "data" / data.name)
    return open_session(config.defaults(cache=str(root), eval_limit=eval_limit, **given))


def test_a_warm_evaluation_comes_from_the_cache_and_says_so(qbench, tmp_path):
    first = fresh(qbench, tmp_path).evaluator.result(MODEL, "int8", "builtin")
    assert first["eval_cached"] is False
    time.sleep(1.1)  # a later session
    again = fresh(qbench, tmp_path).evaluator.result(MODEL, "int8", "builtin")
    assert again["eval_cached"] is True and again["evaluated_at"] == first["evaluated_at"]
    assert again["evaluated_on"] and again["outputs_xxh3_128"] == first["outputs_xxh3_128"]
    assert {k: v for k, v in again.items() if not k.startswith(("eval_cached",))} == {
        k: v for k, v in first.items() if not k.startswith(("eval_cached",))}


@pytest.mark.parametrize("change", ["model", "runtime version", "kernels", "eval limit", "isa flags"])
def test_anything_that_determines_the_outputs_changes_the_key(qbench, tmp_path, monkeypatch, change):
    ws = fresh(qbench, tmp_path).evaluator
    ws.result(MODEL, "int8", "builtin")
    before = ws.key(MODEL, "int8", "builtin")
    other = fresh(qbench, tmp_path, eval_limit=400 if change == "eval limit" else 500).evaluator
    device, mode = "builtin", "int8"
    if change == "model":  # the same mode's file rebuilt with other bytes (a new converter, a new training)
        real_tflite = other.artifacts.tflite
        monkeypatch.setattr(other.artifacts, "tflite", lambda m, md: (lambda a: a if md != "int8" else type(a)(
            a.path, {**a.manifest, "sha256": "0" * 64}))(real_tflite(m, md)))
    elif change == "runtime version":
        real = evaluations.installed
        monkeypatch.setattr(evaluations, "installed", lambda p: "9.9.9" if p == "ai-edge-litert" else real(p))
    elif change == "kernels":
        device = "xnnpack"
    elif change == "eval limit":
        pass  # the other session scores 400 samples
    else:
        facts = evaluations.machine.describe()
        monkeypatch.setattr(evaluations.machine, "describe", lambda: {**facts, "isa_flags": ["avx512f"]})
    key = other.key(MODEL, mode, device)
    assert key != before and not other.cached(MODEL, mode, device)


def test_reevaluate_recomputes_the_same_digests(qbench, tmp_path):
    cached = fresh(qbench, tmp_path).evaluator.result(MODEL, "int8", "xnnpack")
    time.sleep(1.1)
    again = fresh(qbench, tmp_path, reevaluate=True).evaluator
    assert not again.cached(MODEL, "int8", "xnnpack")  # stale for a --qbench-reevaluate session
    redone = again.result(MODEL, "int8", "xnnpack")
    assert redone["eval_cached"] is False and redone["evaluated_at"] > cached["evaluated_at"]
    for key in ("outputs_xxh3_128", "predictions_sha256", "output_sample", "accuracy", "top1_agreement"):
        assert redone[key] == cached[key], key


def test_warmup_builds_and_evaluates_missing_cases_in_worker_processes(qbench, tmp_path):
    ws = fresh(qbench, tmp_path)
    cases = [(MODEL, m, d) for m in ("float32", "int8") for d in ("xnnpack", "builtin")]
    todo = warmup.plan(ws, cases)
    assert set(todo.jobs) == {("eval", MODEL, m, d) for m, _, d in [(c[1], 0, c[2]) for c in cases]}
    assert todo.deps[("eval", MODEL, "int8", "builtin")] == [("eval", MODEL, "float32", "builtin")]
    assert warmup.run(ws, cases, workers=2).failed == {}
    assert all(ws.evaluator.cached(MODEL, m, d) for _, m, d in cases)
    assert warmup.plan(ws, cases).jobs == []  # warm: nothing left, and no process is started
    assert ws.evaluator.result(MODEL, "int8", "builtin")["eval_cached"] is False  # computed this session, by a worker


def test_release_drops_other_models_data_and_keeps_handles(qbench):
    """The plugin releases a model's session data when the cases move on to another model (MNIST cases measured
    after the scenes' 100 MB evaluation set was loaded peaked at 226 MiB instead of 104)."""
    session = open_session(qbench.settings)

    def kept() -> set:
        return {k for m in (session.artifacts._memo, session.evaluator._memo) for k in m._values}

    session.results.info(MODEL, "int8", "xnnpack")
    assert ("eval", MODEL) in kept() and ("tflite", MODEL, "int8") in kept()
    session.release(keep=MODEL)
    assert ("eval", MODEL) in kept()  # the model whose cases come next keeps everything
    session.release(keep="deeplab_scenes")
    assert not [k for k in kept() if k[0] in ("eval", "evaluate", "evaluate-kernels", "data", "calibration")]
    assert ("tflite", MODEL, "int8") in kept()  # small handles stay
    assert session.results.info(MODEL, "int8", "xnnpack")["accuracy"] == qbench.results.info(
        MODEL, "int8", "xnnpack")["accuracy"]

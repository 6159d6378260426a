"""Build and evaluate everything a session needs before its first timed call, on all cores.

A benchmark session needs, per model, a trained or imported source, one .tflite per mode, and one evaluation per
mode x device (shared between devices that compute the same thing). On a warm cache all of it is there, which the
parent checks without starting anything. What is missing is built by a pool of processes (``spawn``, one per
core), in dependency order: a model's source before its converter modes, its float32 .tflite before its
ai-edge-quantizer modes, a device's float32 evaluation before the quantized modes scored against it. So MNIST trains
while the scenes render, two conversions run at once, and two evaluations at once. Every result lands in the
content-addressed cache (whose per-key locks make concurrent builders safe); the session then reads it from there.
Nothing here runs while a benchmark is timed: the plugin calls it at the end of collection.

Evaluation throughput (``eval_fps``) measured here shares the CPU with the other worker; the timed ``invoke()``
latency is measured later, alone.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from qbench import modes, progress
from qbench.errors import NotApplicable, QbenchError

Job = tuple  # ("source", model) | ("tflite", model, mode) | ("eval", model, mode, device)
REFERENCE_MODE = "float32"


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    deps: dict[Job, list[Job]]


def plan(ws, cases: list[tuple[str, str, str | None]]) -> Plan:
    """Every job the cases need that the cache does not already hold, with its dependencies."""
    deps: dict[Job, list[Job]] = {}
    builds = ws.builds_artifacts

    def need_tflite(model: str, mode: str) -> Job | None:
        job = ("tflite", model, mode)
        if job in deps or not builds:
            return job if job in deps else None
        if ws.tflite_cached(model, mode):
            return None
        backend = modes.get(mode).backend
        if backend == "aeq":
            before = [need_tflite(model, REFERENCE_MODE)]
        else:
            before = [("source", model)]
            deps.setdefault(("source", model), [])
        deps[job] = [j for j in before if j is not None]
        return job

    def need_eval(model: str, mode: str, device: str) -> Job | None:
        job = ("eval", model, mode, device)
        if job in deps:
            return job
        tflite = need_tflite(model, mode)
        if tflite is None and ws.evaluation_cached(model, mode, device):
            return None
        before = [tflite]
        if mode != REFERENCE_MODE:
            before.append(need_eval(model, REFERENCE_MODE, device))
        deps[job] = [j for j in before if j is not None]
        return job

    for model, mode, device in sorted(cases, key=lambda c: (c[0], c[1] != REFERENCE_MODE, c[1], c[2] or "")):
        try:
            need_eval(model, mode, device) if device else need_tflite(model, mode)
        except NotApplicable:
            continue  # its cases skip with the reason
    return Plan(list(deps), deps)


def run(ws, cases: list[tuple[str, str, str | None]], workers: int | None = None) -> dict[Job, str]:
    """Make the cache hold what ``cases`` need; returns the jobs that did not succeed, with why (their cases
    report it when they run)."""
    todo = plan(ws, cases)
    if not todo.jobs:
        return {}
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo.jobs)))
    progress.log(f"preparing {len(todo.jobs)} missing artifact(s) and evaluation(s) with {workers} process(es) "
                 "before any timing")
    failed: dict[Job, str] = {}
    done: set[Job] = set()
    running: dict[Future, tuple[Job, float]] = {}
    waiting = list(todo.jobs)
    try:
        _in_pool(ws, todo, workers, done, failed, waiting, running)
    except BrokenProcessPool as exc:  # a worker died (killed, out of memory): finish here, one job at a time
        progress.log(f"a worker process died ({exc}); finishing the remaining jobs in this process")
        for job in todo.jobs:  # in dependency order
            if job in done or job in failed:
                continue
            if outcome := _do(ws, job):
                failed[job] = outcome
            else:
                done.add(job)
    return failed


def _in_pool(ws, todo: Plan, workers: int, done: set, failed: dict, waiting: list, running: dict) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(ws.recipe(), workers)) as pool:
        while waiting or running:
            for job in list(waiting):
                blockers = [d for d in todo.deps[job] if d not in done]
                if any(d in failed for d in blockers):
                    failed[job] = f"needs {_name(next(d for d in blockers if d in failed))}"
                    waiting.remove(job)
                elif not blockers and len(running) < workers:
                    running[pool.submit(_work, job)] = (job, time.perf_counter())
                    waiting.remove(job)
            if not running:
                raise RuntimeError(f"warm-up stalled with {len(waiting)} job(s) whose dependencies never ran")
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                job, start = running.pop(future)
                outcome, built, tensorflow = future.result()
                if built and isinstance(ws.cache.built, list):
                    ws.cache.built.extend(built)  # the session summary counts what the workers built too
                ws.helpers_imported_tensorflow |= tensorflow
                if outcome:
                    failed[job] = outcome
                else:
                    done.add(job)
                progress.log(f"{_name(job)}: {outcome or 'done'} ({time.perf_counter() - start:.1f} s, "
                             f"{len(done) + len(failed)}/{len(todo.jobs)})")


def _name(job: Job) -> str:
    kind, *what = job
    return {"source": "source model", "tflite": ".tflite", "eval": "evaluation"}[kind] + " " + " ".join(what)


_WORKSPACE: Any = None


def _start(recipe: tuple, workers: int) -> None:
    """Pool initializer: this process's own Workspace, made the way the session made its own."""
    global _WORKSPACE
    progress.set_sink(None)  # stderr: the parent reports each job's outcome
    factory, args = recipe
    _WORKSPACE = factory(*args)
    _WORKSPACE.concurrent_evaluations = workers


def _work(job: Job) -> tuple[str | None, list[str], bool]:
    """Do one job in a worker: (its outcome; the cache entries it built; whether this process has imported
    TensorFlow)."""
    before = len(_WORKSPACE.cache.built)
    outcome = _do(_WORKSPACE, job)
    return outcome, list(_WORKSPACE.cache.built[before:]), "tensorflow" in sys.modules


def _do(ws, job: Job) -> str | None:
    """One job: None on success, else the reason (the session raises it again in its case)."""
    kind, model, *rest = job
    try:
        if kind == "source":
            ws.source(model)
        elif kind == "tflite":
            ws.tflite(model, rest[0])
        else:
            ws.evaluation(model, rest[0], rest[1])
    except NotApplicable as exc:
        return f"not applicable: {exc.problem}"
    except QbenchError as exc:
        return f"failed: {exc.problem}"
    return None

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

import importlib
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from qbench import progress
from qbench.errors import NotApplicable, QbenchError
from qbench.modes import MODES, REFERENCE_MODE
from qbench.quantizers import BACKENDS
from qbench.registry import extension_modules

Job = tuple  # ("source", model) | ("tflite", model, mode) | ("eval", model, mode, device)


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    deps: dict[Job, list[Job]]


@dataclass
class Outcome:
    """What the workers did: the jobs that did not succeed (with why: their cases report it when they run), the
    cache entries they built, and whether any imported TensorFlow (for the session summary)."""

    failed: dict[Job, str] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)
    tensorflow: bool = False


def plan(session, cases: list[tuple[str, str, str | None]]) -> Plan:
    """Every job the cases need that the cache does not already hold, with its dependencies: what each mode starts
    from is its backend's word (``Backend.starts_from``: the source, or another mode's artifact)."""
    deps: dict[Job, list[Job]] = {}
    builds, artifacts, evaluator = session.builds, session.artifacts, session.evaluator

    def need_tflite(model: str, mode: str) -> Job | None:
        job = ("tflite", model, mode)
        if job in deps or not builds:
            return job if job in deps else None
        if artifacts.cached(model, mode):
            return None
        start = BACKENDS.get(MODES.get(mode).backend).starts_from(MODES.get(mode))
        if start is not None:
            before = [need_tflite(model, start)]
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
        if tflite is None and evaluator.cached(model, mode, device):
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


def run(session, cases: list[tuple[str, str, str | None]], workers: int | None = None) -> Outcome:
    """Make the cache hold what ``cases`` need."""
    todo = plan(session, cases)
    outcome = Outcome()
    if not todo.jobs:
        return outcome
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo.jobs)))
    progress.log(f"preparing {len(todo.jobs)} missing artifact(s) and evaluation(s) with {workers} process(es) "
                 "before any timing")
    failed = outcome.failed
    done: set[Job] = set()
    running: dict[Future, tuple[Job, float]] = {}
    waiting = list(todo.jobs)
    try:
        _in_pool(session, todo, workers, done, outcome, waiting, running)
    except BrokenProcessPool as exc:  # a worker died (killed, out of memory): finish here, one job at a time
        progress.log(f"a worker process died ({exc}); finishing the remaining jobs in this process")
        for job in todo.jobs:  # in dependency order
            if job in done or job in failed:
                continue
            if reason := _do(session, job):
                failed[job] = reason
            else:
                done.add(job)
    return outcome


def _in_pool(session, todo: Plan, workers: int, done: set, outcome: Outcome, waiting: list, running: dict) -> None:
    failed = outcome.failed
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                             initargs=(session.remade(workers), extension_modules())) as pool:
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
                reason, built, tensorflow = future.result()
                outcome.built += built  # the session summary counts what the workers built too
                outcome.tensorflow |= tensorflow
                if reason:
                    failed[job] = reason
                else:
                    done.add(job)
                progress.log(f"{_name(job)}: {reason or 'done'} ({time.perf_counter() - start:.1f} s, "
                             f"{len(done) + len(failed)}/{len(todo.jobs)})")


def _name(job: Job) -> str:
    kind, *what = job
    return {"source": "source model", "tflite": ".tflite", "eval": "evaluation"}[kind] + " " + " ".join(what)


_SESSION: Any = None


def _start(remake: tuple, extensions: list[str]) -> None:
    """Pool initializer: this process's own session, made the way the parent made its own, with the registry
    entries the parent's extension modules added."""
    global _SESSION
    progress.set_sink(None)  # stderr: the parent reports each job's outcome
    for module in extensions:
        importlib.import_module(module)
    factory, args, kwargs = remake
    _SESSION = factory(*args, **kwargs)


def _work(job: Job) -> tuple[str | None, list[str], bool]:
    """Do one job in a worker: (its outcome; the cache entries it built; whether this process has imported
    TensorFlow)."""
    before = len(_SESSION.built())
    outcome = _do(_SESSION, job)
    return outcome, _SESSION.built()[before:], "tensorflow" in sys.modules


def _do(session, job: Job) -> str | None:
    """One job: None on success, else the reason (the session raises it again in its case)."""
    kind, model, *rest = job
    try:
        if kind == "source":
            session.artifacts.source(model)
        elif kind == "tflite":
            session.artifacts.tflite(model, rest[0])
        else:
            session.evaluator.evaluation(model, rest[0], rest[1])
    except NotApplicable as exc:
        return f"not applicable: {exc.problem}"
    except QbenchError as exc:
        return f"failed: {exc.problem}"
    return None

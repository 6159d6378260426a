"""Build and evaluate everything a session needs before its first timed call, on all cores.

A benchmark session needs, per model, a trained or imported source, one .tflite per mode, and one evaluation per
mode x device (shared between devices that compute the same thing). On a warm cache all of it is there, which the
parent checks without starting anything. What is missing is built by worker processes (``qbench.workers``, one per
core; a native crash costs its own job and what depends on it, and the workers end with their parent), in
dependency order: a model's source before its converter modes, its float32 .tflite before its
ai-edge-quantizer modes, a device's float32 evaluation before the quantized modes scored against it. So MNIST trains
while the scenes render, two conversions run at once, and two evaluations at once. Every result lands in the
content-addressed cache (whose per-key locks make concurrent builders safe); the session then reads it from there.
Nothing here runs while a benchmark is timed: the plugin calls it at the end of collection.

Evaluation throughput (``eval_fps``) measured here shares the CPU with the other worker; the timed ``invoke()``
latency is measured later, alone.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from qbench import progress
from qbench.errors import BuildCrashed, NotApplicable, QbenchError, ResourceError
from qbench.modes import MODES, reference_of
from qbench.quantizers import BACKENDS
from qbench.registry import extension_modules
from qbench.workers import WorkerPool

Job = tuple  # ("source", model) | ("tflite", model, mode) | ("eval", model, mode, device)


@dataclass(frozen=True)
class Plan:
    jobs: list[Job]
    deps: dict[Job, list[Job]]


@dataclass
class Outcome:
    """What the workers did: the jobs that did not succeed (with why: their cases report it when they run), those of
    them whose error the session raises in their cases instead of retrying (``errors``), the cache entries they built, and whether any imported TensorFlow
    (for the session summary)."""

    failed: dict[Job, str] = field(default_factory=dict)
    errors: dict[Job, QbenchError] = field(default_factory=dict)  # what the session must not retry in-process
    built: list[str] = field(default_factory=list)
    tensorflow: bool = False


def plan(session, cases: list[tuple[str, str, str | None]], failed: dict[Job, str] | None = None) -> Plan:
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
        if mode != reference_of(mode):
            before.append(need_eval(model, reference_of(mode), device))
        deps[job] = [j for j in before if j is not None]
        return job

    for model, mode, device in sorted(cases, key=lambda c: (c[0], c[1] != reference_of(c[1]), c[1], c[2] or "")):
        try:
            need_eval(model, mode, device) if device else need_tflite(model, mode)
        except NotApplicable:
            continue  # its cases skip with the reason
        except ResourceError:
            raise
        except QbenchError as exc:  # e.g. a cached file the device refuses to load: its own cases fail with it
            if failed is not None:
                failed[("eval", model, mode, device) if device else ("tflite", model, mode)] = f"failed: {exc.problem}"
    return Plan(list(deps), deps)


def run(session, cases: list[tuple[str, str, str | None]], workers: int | None = None) -> Outcome:
    """Make the cache hold what ``cases`` need, every build and evaluation in a worker process (``qbench.workers``):
    a native crash fails its own job and the jobs that need it, never the session. A resource the machine ran out
    of (disk, memory) is raised (``ResourceError``: one usage error)."""
    writable = session.evaluator.eval_cache or session.cache  # a bundle's session writes only its evaluations
    if session.builds:
        session.cache.sweep()  # what killed runs left in tmp/
    outcome = Outcome()
    todo = plan(session, cases, outcome.failed)
    if not todo.jobs:
        return outcome
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo.jobs)))
    progress.log(f"preparing {len(todo.jobs)} missing artifact(s) and evaluation(s) with {workers} process(es) "
                 "before any timing")
    failed, done, waiting = outcome.failed, set(), list(todo.jobs)
    started: dict[Job, float] = {}
    with WorkerPool(workers, _work, _start, (session.remade(workers), extension_modules()),
                    writable.root / "logs") as pool:
        while waiting or pool.busy():
            for job in list(waiting):
                blockers = [d for d in todo.deps[job] if d not in done]
                if any(d in failed for d in blockers):
                    failed[job] = f"needs {_name(next(d for d in blockers if d in failed))}"
                    waiting.remove(job)
                elif not blockers and pool.idle():
                    pool.submit(job)
                    started[job] = time.perf_counter()
                    waiting.remove(job)
            if not pool.busy():
                if waiting:
                    raise RuntimeError(f"warm-up stalled with {len(waiting)} job(s) whose dependencies never ran")
                break
            for finished in pool.wait():
                job = finished.job
                reason = _reason(job, finished, outcome)
                if reason:
                    failed[job] = reason
                else:
                    done.add(job)
                progress.log(f"{_name(job)}: {reason.splitlines()[0] if reason else 'done'} "
                             f"({time.perf_counter() - started[job]:.1f} s, {len(done) + len(failed)}/{len(todo.jobs)})")
    if session.builds and any(isinstance(error, BuildCrashed) for error in outcome.errors.values()):
        session.cache.sweep()  # a killed worker's half-built entry (its lock died with it)
    return outcome


def _reason(job: Job, finished, outcome: Outcome) -> str | None:
    """Why a finished job did not succeed (None: it did). What failed in a worker is recorded for the session to
    raise in its cases instead of trying again in-process (``refuse_failed``)."""
    if finished.crash:
        outcome.errors[job] = BuildCrashed(
            f"making the {_name(job)} crashed: {finished.crash}",
            "report it with the model and mode, or leave the mode out with --qbench-modes (a later run tries again)")
    elif isinstance(finished.raised, ResourceError):
        raise finished.raised
    elif finished.raised is not None:  # not a QbenchError: a bug, or a library's own exception
        error = finished.raised
        outcome.errors[job] = BuildCrashed(f"making the {_name(job)} raised {type(error).__name__}: {error}",
                                            "report it with the model and mode; the worker's log is in the cache's logs/")
    else:
        error, built, tensorflow = finished.value
        outcome.built += built  # the session summary counts what the workers built too
        outcome.tensorflow |= tensorflow
        if error is None:
            return None
        if isinstance(error, NotApplicable):
            return f"not applicable: {error.problem}"  # a cached verdict: its cases read it again
        outcome.errors[job] = error
    return f"failed: {outcome.errors[job].problem}"


def _name(job: Job) -> str:
    kind, *what = job
    return {"source": "source model", "tflite": ".tflite", "eval": "evaluation"}[kind] + " " + " ".join(what)


_SESSION: Any = None


def _start(remake: tuple, extensions: list[str]) -> None:
    """Worker initializer: this process's own session, made the way the parent made its own, with the registry
    entries the parent's extension modules added."""
    global _SESSION
    progress.set_sink(None)  # stderr: the parent reports each job's outcome
    for module in extensions:
        importlib.import_module(module)
    factory, args, kwargs = remake
    _SESSION = factory(*args, **kwargs)


def _work(job: Job) -> tuple[QbenchError | None, list[str], bool]:
    """Do one job in a worker: (what it raised that a user can act on, or None; the cache entries it built;
    whether this process has imported TensorFlow)."""
    before = len(_SESSION.built())
    error = _do(_SESSION, job)
    return error, _SESSION.built()[before:], "tensorflow" in sys.modules


def _do(session, job: Job) -> QbenchError | None:
    """One job; None on success, else its error (a ``ResourceError`` is raised: it ends the session)."""
    kind, model, *rest = job
    try:
        if kind == "source":
            session.artifacts.source(model)
        elif kind == "tflite":
            session.artifacts.tflite(model, rest[0])
        else:
            session.evaluator.evaluation(model, rest[0], rest[1])
    except ResourceError:
        raise
    except MemoryError:
        raise ResourceError(f"out of memory making the {_name(job)}",
                            "close other programs, or run fewer models at a time (--qbench-models)") from None
    except QbenchError as exc:
        return exc
    return None


def refuse_failed(session, outcome: Outcome) -> None:
    """What failed in a worker is not tried again in this process (a crash would take the session down, a failed
    conversion would take its minutes again): its cases raise the worker's error instead. Nothing of it was
    cached, so a later run tries again."""
    for job, error in outcome.errors.items():
        kind, model, *rest = job
        if kind == "eval":
            session.evaluator.refuse(model, rest[0], rest[1], error)
        else:
            session.artifacts.refuse(model, rest[0] if rest else None, error)

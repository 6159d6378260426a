"""Worker processes for builds and evaluations: a native crash costs its own job, and workers end with their parent.

TensorFlow's converter, ai-edge-quantizer and LiteRT are C++ libraries, and they do crash on odd inputs (a NaN in a
calibration set segfaults TFLiteConverter). Whatever the warm-up builds therefore runs in a worker: a ``spawn``ed
process serving one job at a time over a pipe. A worker that dies while on a job is replaced, and the job comes
back as crashed, with the signal and the last lines its process wrote, while the other jobs go on.

Workers die with their parent: each asks the kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``, Linux;
elsewhere a thread polls the parent), so SIGTERM or SIGKILL of pytest or ``qbench build`` leaves no worker going on
with a 45-minute search. A worker's fd 2 (native libraries' prints, Python's fault handler) goes to
``logs/worker-<n>.log`` in the cache (fd 1 too), where a crash's last words are read from; its progress lines still reach the
terminal.
"""

from __future__ import annotations

import ctypes
import faulthandler
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable

from qbench import chatter, progress

PR_SET_PDEATHSIG = 1
LAST_WORDS = 12  # lines of a crashed worker's log quoted in its job's error
FRAMES = 4  # of them, the innermost frames of a fault
BUILD_LOG = "--- build log at "  # a worker log's note: where a build's own output went (qbench.chatter.build_log)


@dataclass
class Done:
    """A finished job: what the function returned, or what it raised, or how its worker died (``crash``)."""

    job: Any
    value: Any = None
    raised: BaseException | None = None
    crash: str | None = None


def die_with_parent(parent: int) -> None:
    """Be killed when the process that started this one ends, however it ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):  # not Linux: poll instead
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="qbench-parent-watch").start()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _serve(conn: Connection, parent: int, log: str, function: Callable, initializer: Callable, initargs: tuple) -> None:
    die_with_parent(parent)
    progress.pin_terminal()  # progress lines go where stderr went; native prints and faults go to the log
    with open(log, "a", buffering=1, encoding="utf-8", errors="replace") as out:
        sys.stdout.flush()
        for fd in (1, 2):  # what native code prints, to either, belongs to the job's log
            os.dup2(out.fileno(), fd)
        faulthandler.enable(file=out)
        chatter.on_build_log = lambda path, offset: out.write(f"{BUILD_LOG}{offset} {path}\n")
        initializer(*initargs)
        while True:
            try:
                job = conn.recv()
            except EOFError:  # the parent is gone
                return
            if job is None:
                return
            out.write(f"--- job {job!r} (pid {os.getpid()})\n")
            try:
                reply = (function(job), None)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
                reply = (None, exc)
            try:
                conn.send(reply)
            except Exception as exc:  # noqa: BLE001 - an unpicklable exception
                conn.send((None, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({exc})")))


class _Worker:
    def __init__(self, context, number: int, log: Path, function, initializer, initargs):
        self.log = log
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, name=f"qbench-worker-{number}", daemon=True,
                                       args=(child, os.getpid(), str(log), function, initializer, initargs))
        self.process.start()
        child.close()
        self.job: Any = None
        self.offset = 0  # where the current job's lines start in the log

    def give(self, job: Any) -> None:
        self.job = job
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        self.conn.send(job)

    def last_words(self) -> str:
        """What the job's process wrote last: the end of the build log it was writing (a converter's own prints go
        there), its final lines before Python's fault handler took over, the fault, and the innermost frames of
        the crashed thread (the fault handler lists the most recent call first)."""
        lines = _lines(self.log, self.offset)
        notes = [line for line in lines if line.startswith(BUILD_LOG)]
        lines = [line for line in lines if not line.startswith(("--- job ", BUILD_LOG))]
        if notes:  # the build that was running: the tail of its own log
            offset, _, path = notes[-1][len(BUILD_LOG):].partition(" ")
            lines = _lines(Path(path), int(offset))[1:] + lines  # (its first line is the build's header)
        fault = next((i for i, line in enumerate(lines) if line.startswith("Fatal Python error")), None)
        if fault is None:
            return "\n".join(lines[-LAST_WORDS:])
        frames = [line for line in lines[fault + 1:] if line.lstrip().startswith("File ")][:FRAMES]
        return "\n".join([*lines[max(0, fault - LAST_WORDS + FRAMES + 1):fault], lines[fault], *frames])


def _lines(path: Path, offset: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            return [line.rstrip() for line in f if line.strip()]
    except (OSError, ValueError):
        return []


def death(exitcode: int | None) -> str:
    """How a process ended, in words: "SIGSEGV (Segmentation fault)", "exit code 1"."""
    if exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode)
            return f"{sig.name} ({signal.strsignal(sig) or sig.name})"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """``size`` workers running ``function(job)`` one job at a time each; ``initializer(*initargs)`` starts each."""

    def __init__(self, size: int, function: Callable, initializer: Callable, initargs: tuple, log_dir: Path):
        self.size, self.function, self.initializer, self.initargs = size, function, initializer, initargs
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._started = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def idle(self) -> int:
        return self.size - sum(w.job is not None for w in self._workers)

    def busy(self) -> int:
        return sum(w.job is not None for w in self._workers)

    def submit(self, job: Any) -> None:
        worker = next((w for w in self._workers if w.job is None), None)
        if worker is None:
            if len(self._workers) >= self.size:
                raise RuntimeError("no idle worker")
            self._started += 1
            worker = _Worker(self._context, self._started, self.log_dir / f"worker-{self._started}.log",
                             self.function, self.initializer, self.initargs)
            self._workers.append(worker)
        worker.give(job)

    def wait(self) -> list[Done]:
        """Block until a job finishes or a worker dies; what finished."""
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return []
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        done = []
        for worker in busy:
            if worker.conn in ready:
                try:
                    value, raised = worker.conn.recv()
                except (EOFError, OSError):  # it died while answering: treat as a crash below
                    pass
                else:
                    done.append(Done(worker.job, value, raised))
                    worker.job = None
                    continue
            if worker.conn in ready or worker.process.sentinel in ready:
                worker.process.join(5)
                words = worker.last_words()
                done.append(Done(worker.job, crash=f"its worker process (pid {worker.process.pid}) died by "
                                                   f"{death(worker.process.exitcode)}"
                                                   + (f"; its last words ({worker.log}):\n{words}" if words else "")))
                worker.conn.close()
                self._workers.remove(worker)
        return done

    def close(self) -> None:
        """Stop every worker: politely when idle, by SIGKILL when busy or deaf."""
        for worker in self._workers:
            if worker.job is None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
            else:
                worker.process.kill()
        deadline = time.monotonic() + 10
        for worker in self._workers:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.conn.close()
        self._workers.clear()


__all__ = ["Done", "WorkerPool", "death", "die_with_parent"]

"""What TensorFlow, Keras and the native runtimes print, kept off the terminal but at hand.

A cold run printed ~1,000 lines of the converter's "Saved artifact at ... TensorSpec(...)" and TensorFlow's C++
"oneDNN custom operations are on" between qbench's progress lines; LiteRT prints ~30 INFO lines per CompiledModel
load straight to file descriptor 2. Python-level output is caught by swapping ``sys.stdout`` / ``sys.stderr``;
C++ output only by pointing fd 2 itself elsewhere (``TF_CPP_MIN_LOG_LEVEL`` does not silence everything).

- ``build_log(path)``: everything printed while an artifact is built (training, conversion, quantization) goes
  to a log in the cache (``CACHE/logs/KIND-KEY.log``); the build's progress lines still reach the terminal, because
  ``qbench.progress`` writes to a copy of the terminal's fd 2 made before the swap.
- ``fd2_into(file)``: the fd-2 swap itself (``qbench.runtime.quiet`` uses it for LiteRT's load log).
- ``show(True)`` (the plugin calls it under ``pytest -v``), or ``QBENCH_LITERT_LOG=1``, prints each captured log
  after its block.

fd 2 is process-wide, so anything another thread writes to stderr during a block lands in the capture too; qbench
builds and loads models from one thread per process (pytest-xdist workers and warm-up workers are processes).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, IO, Iterator

from qbench import progress

ENV = "QBENCH_LITERT_LOG"


def _asked_by_environment() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no")


_show = _asked_by_environment()


def show(flag: bool) -> None:
    """Also print each captured log after its block (the environment variable turns it on regardless)."""
    global _show
    _show = flag or _asked_by_environment()


def showing() -> bool:
    return _show


@contextmanager
def fd2_into(target: IO) -> Iterator[None]:
    """Point file descriptor 2 at ``target`` (an open file) for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
    finally:
        os.close(saved)


#: told where each build log's block starts (path, offset): a worker process notes it in its own log, so that the
#: last words of a build that crashed its process can be read there (``qbench.workers``)
on_build_log: Callable[[Path, int], None] | None = None


@contextmanager
def build_log(path: Path, label: str) -> Iterator[None]:
    """Send the block's Python stdout / stderr and fd 2 to ``path`` (appended), progress lines excepted."""
    progress.pin_terminal()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", errors="replace") as log:
        start = log.tell()
        if on_build_log is not None:
            on_build_log(path, start)
        log.write(f"--- {label}: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, pid {os.getpid()}\n")
        log.flush()
        try:
            with fd2_into(log), contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            log.flush()
    if _show:
        with open(path, encoding="utf-8", errors="replace") as log:
            log.seek(start)
            text = log.read().rstrip()
        if text.count("\n"):
            progress.log(f"log of {label} ({path}):\n{text}")

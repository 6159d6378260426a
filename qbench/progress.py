"""Progress lines for long steps (downloads, training, conversions).

The pytest plugin swaps the sink so the lines reach the terminal past output capturing.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from contextlib import contextmanager
from typing import IO, Callable, Iterator

_terminal: IO | None = None  # a copy of fd 2 made before any capture (qbench.chatter), once per process


def pin_terminal() -> None:
    """Keep writing progress lines to where stderr points now, even while fd 2 is captured (qbench.chatter)."""
    global _terminal
    if _terminal is None:
        _terminal = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
        atexit.register(_terminal.close)  # closed before shutdown, which would warn of an unclosed file


def _stderr(msg: str) -> None:
    print(msg, file=_terminal or sys.stderr, flush=True)


_sink: Callable[[str], None] = _stderr


def set_sink(sink: Callable[[str], None] | None) -> None:
    global _sink
    _sink = sink or _stderr


def log(msg: str) -> None:
    _sink(f"[qbench] {msg}")


@contextmanager
def step(what: str) -> Iterator[None]:
    log(f"{what} ...")
    start = time.perf_counter()
    yield
    log(f"{what}: done in {time.perf_counter() - start:.1f} s")

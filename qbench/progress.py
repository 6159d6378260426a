"""Progress lines for long steps (downloads, training, conversions).

The pytest plugin swaps the sink so the lines reach the terminal past output capturing.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


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

"""What a service keeps for the rest of a session, and what it gives back when the session moves to another model."""

from __future__ import annotations

import ctypes
import gc
from typing import Any, Callable, Hashable

from qbench.errors import QbenchError


class Memo:
    """Values by key, made once. Keys are tuples whose first element names the kind of value and whose second, when
    there is one, the model it belongs to; ``light`` kinds (handles, digests, keys) are kept for the whole session."""

    def __init__(self, light: frozenset[str] = frozenset()):
        self._values: dict[tuple, Any] = {}
        self._light = light

    def get(self, key: tuple[Hashable, ...], make: Callable[[], Any]) -> Any:
        if key not in self._values:
            self._values[key] = make()
        return self._values[key]

    def release(self, keep: str | None = None) -> None:
        """Drop what belongs to models other than ``keep`` (evaluation sets, predictions, calibration data)."""
        self._values = {k: v for k, v in self._values.items()
                        if k[0] in self._light or (len(k) > 1 and k[1] == keep)}


def return_free_memory() -> None:
    """Collect, and hand freed heap pages back to the OS (glibc keeps them otherwise, and they count in RSS)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Refusals:
    """Errors a service raises for a key instead of making its value: what failed in a warm-up worker (a native
    crash would take this process down too; a failed build would take its minutes again)."""

    def __init__(self):
        self._errors: dict[tuple, QbenchError] = {}

    def add(self, key: tuple, error: QbenchError) -> None:
        self._errors[key] = error

    def check(self, key: tuple) -> None:
        if (error := self._errors.get(key)) is not None:
            raise type(error)(error.problem, error.fix)

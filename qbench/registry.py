"""One registry pattern for every axis: datasets, tasks, models, quantization backends, runtimes, devices, modes.

A registry is an instance (ai-edge-quantizer's ``AlgorithmManagerApi`` keeps its algorithms the same way); an entry
registers itself where it is defined, with a decorator on its class or a call with its instance (LiteRT's AOT
vendors register with ``@register_backend``). Each axis's package imports its built-in entry modules, so importing
the package is what fills its registry; a new entry is one module and one registration, and code that imports
that module (a conftest, a user's plugin) adds it. ``added`` registers an entry for a ``with`` block only (tests).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

from qbench.errors import QbenchError, lookup

T = TypeVar("T")


_ALL: list[Registry] = []  # every registry, for ``extension_modules``


def extension_modules() -> list[str]:
    """The modules outside qbench that registered entries (a conftest's toy backend, a user's plugin): a warm-up
    worker process imports them again, so that it knows the same entries as its parent."""
    found = {module for r in _ALL for module in r._origins.values()}
    return sorted(m for m in found if m and m != "__main__" and not m.startswith("qbench"))


class Registry(Generic[T]):
    """Entries of one axis by their stable string id, in registration order."""

    def __init__(self, what: str, id_of: Callable[[T], str] = lambda entry: entry.id, classes: bool = False):
        """``classes``: the entries are classes (runtimes, instantiated per model file), not instances."""
        self.what = what
        self._id_of = id_of
        self._classes = classes
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str] = {}  # id -> the module that registered it
        _ALL.append(self)

    def _entry(self, entry):
        return entry() if isinstance(entry, type) and not self._classes else entry

    def register(self, entry):
        """Register an instance, or (as a class decorator) an instance of the class; returns what it was given."""
        key = self._add(self._entry(entry))
        self._origins[key] = sys._getframe(1).f_globals.get("__name__", "")  # where the registration is written
        return entry

    def _add(self, instance: T) -> str:
        key = self._id_of(instance)
        if key in self._entries:
            raise QbenchError(f"{self.what} id {key!r} is registered twice", f"give each {self.what} its own id")
        self._entries[key] = instance
        return key

    def unregister(self, key: str) -> None:
        self._entries.pop(key, None)
        self._origins.pop(key, None)

    @contextmanager
    def added(self, entry) -> Iterator[T]:
        """``entry`` (an instance, or a class to instantiate) registered for the block only (a test's toy entry)."""
        key = self._add(self._entry(entry))
        try:
            yield self._entries[key]
        finally:
            self.unregister(key)

    def get(self, key: str) -> T:
        """The entry, or the error that names the unknown id and lists the valid ones."""
        return lookup(self._entries, key, self.what)

    __getitem__ = get

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[str]:
        return list(self._entries)

    def values(self) -> list[T]:
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

"""One exception type for problems a user can fix, so every entry point can print it without a traceback."""

from __future__ import annotations


from typing import Mapping, TypeVar

T = TypeVar("T")


class QbenchError(Exception):
    """A user-fixable problem: ``problem`` says what is wrong, ``fix`` what to do about it."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)

    def __reduce__(self):  # a worker process sends it to its parent whole: problem and fix, not the joined text
        return type(self), (self.problem, self.fix)


class NotApplicable(QbenchError):
    """A combination that cannot exist (a converter mode of a ready .tflite, an AEQ recipe for float16 weights, a
    custom op a device lacks): its cases skip with ``problem`` as the reason, they do not fail."""


class ResourceError(QbenchError):
    """The machine ran out of something the run needs (space on the cache's filesystem, a folder that became
    unwritable, memory): no case can be trusted to run, so the session ends with this one usage error."""


class BuildCrashed(QbenchError):
    """A build or evaluation whose worker process died (a native crash, a signal): its own cases fail with it; the
    session goes on, and a later run tries again (nothing is cached)."""


def lookup(table: Mapping[str, T], key: str, what: str) -> T:
    """``table[key]``, or the error that names the unknown id and lists the valid ones."""
    try:
        return table[key]
    except KeyError:
        raise QbenchError(f"unknown {what} {key!r}", f"choose from {', '.join(table)}") from None

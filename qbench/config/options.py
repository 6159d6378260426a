"""What a setting is (``Option``) and the parsed values of a run (``Settings``).

A model or dataset that needs a setting (the segmentation frame size, a Cityscapes folder) declares an ``Option``
beside its code (its ``options``); ``qbench.config.declared()`` gathers them with the general ones and the gate's,
and ``qbench.config.add_flags`` turns any of them into command-line flags for pytest (``--qbench-NAME``) and for
the ``qbench`` CLI (``--NAME``), so the faces cannot drift apart. Values arrive as text and are parsed and checked
once, up front, into ``Settings``: a bad value is one usage error before anything is built, never a failure per case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from qbench.errors import QbenchError

BUILD, RUN = "build", "run"  # which face offers an option: `qbench build` (build) and/or pytest (run)


@dataclass(frozen=True)
class Option:
    name: str  # "seg-size" -> pytest --qbench-seg-size, qbench build --seg-size; settings.seg_size
    help: str
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None  # text -> value, raising QbenchError; None keeps the text
    default: Any = None  # the value when neither the flag nor ``env`` is set (not parsed)
    env: str | None = None  # environment variable read when the flag is absent
    repeat: bool = False  # may be given several times (a list of values)
    flag: bool = False  # takes no value (true when given)
    stages: frozenset[str] = field(default=frozenset({BUILD, RUN}))
    choices: tuple[str, ...] | None = None  # the only values it takes (the command line lists them)

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def value(self, raw: Any) -> Any:
        """The parsed value of what the command line gave (None / [] / False when absent)."""
        if self.flag:
            return bool(raw)
        if self.repeat:
            return [self._one(v) for v in raw or []]
        if raw is None and self.env and os.environ.get(self.env):
            raw = os.environ[self.env]
        if raw is None:
            return self.default
        return self._one(raw)

    def _one(self, raw: Any) -> Any:
        if self.choices is not None and str(raw) not in self.choices:
            raise QbenchError(f"--{self.name} {raw!r} is not one of {', '.join(self.choices)}",
                              f"give --{self.name} {'|'.join(self.choices)}")
        return self.parse(str(raw)) if self.parse else raw


def positive_int(what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise QbenchError(f"{what} {text!r} is not a whole number", f"give {what} as a number >= 1") from None
        if value < 1:
            raise QbenchError(f"{what} must be at least 1, got {value}", f"give {what} as a number >= 1")
        return value

    return parse


class Settings(Mapping[str, Any]):
    """Parsed option values by ``dest`` name (``settings.seg_size`` or ``settings["seg_size"]``)."""

    def __init__(self, values: Mapping[str, Any] | None = None):
        self._values = MappingProxyType(dict(values or {}))

    @classmethod
    def parse(cls, options: Iterable[Option], raw: Callable[[Option], Any]) -> Settings:
        """``raw(option)`` gives the command line's value of each option; all are parsed before any is used."""
        return cls({o.dest: o.value(raw(o)) for o in options})

    @classmethod
    def defaults(cls, options: Iterable[Option], **given: Any) -> Settings:
        """Every option at its default (or environment) value, with ``given`` (dest=value) on top; text values are
        parsed as the command line's would be, others taken as already parsed."""
        options = {o.dest: o for o in options}
        base = {dest: o.value([] if o.repeat else None) for dest, o in options.items()}
        unknown = set(given) - set(base)
        if unknown:
            raise QbenchError(f"unknown setting(s) {', '.join(sorted(unknown))}", f"known: {', '.join(sorted(base))}")
        parsed = {k: options[k].value(v) if isinstance(v, str) else v for k, v in given.items()}
        return cls({**base, **parsed})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __reduce__(self):  # a mapping proxy does not pickle; qbench.warmup's workers get a copy
        return (Settings, (dict(self._values),))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def replace(self, **changes: Any) -> Settings:
        return Settings({**self._values, **changes})

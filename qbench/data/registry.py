"""The dataset kinds, by the id that ``dataset=KIND[:PATH]`` names: one module each under ``qbench/data/``.

Adding a kind is one module with a ``KIND`` (a ``DatasetKind``) and one entry in ``MODULES``.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from qbench.data.base import DatasetKind
from qbench.errors import QbenchError, lookup

MODULES = ("mnist", "cityscapes", "idx", "npz", "images", "masks", "inputs", "photos")


@lru_cache(maxsize=None)
def kinds() -> dict[str, DatasetKind]:
    found = {}
    for name in MODULES:
        kind = importlib.import_module(f"qbench.data.{name}").KIND
        found[kind.id] = kind
    return found


def get(kind_id: str) -> DatasetKind:
    return lookup(kinds(), kind_id, "dataset kind")


def parse(text: str) -> tuple[DatasetKind, Path | None]:
    """``KIND`` or ``KIND:PATH`` -> the kind and the (expanded, absolute) path; checks that the path exists."""
    kind_id, sep, raw = text.partition(":")
    if kind_id not in kinds():
        raise QbenchError(f"unknown dataset {kind_id!r} in dataset={text}",
                          "use " + ", ".join(f"{k.id}:PATH" if k.takes_path else k.id for k in kinds().values()))
    kind = kinds()[kind_id]
    path = kind.resolve(raw if sep else None)
    kind.check_path(path)
    return kind, path


def options():
    return tuple(o for kind in kinds().values() for o in kind.options)


def choices() -> str:
    return " | ".join(f"{k.id}:PATH" if k.takes_path else k.id for k in kinds().values())

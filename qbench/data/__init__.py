"""Datasets: one module per kind (``dataset=KIND[:PATH]``), each registered in ``DATASETS``. Loaders return numpy
arrays and never import TensorFlow. A new kind is one module with a ``DatasetKind`` subclass decorated
``@DATASETS.register`` (``tests/extensions/toy_dataset.py`` is a worked example).
"""

from __future__ import annotations

from pathlib import Path

from qbench.data import (  # noqa: F401  (they register themselves)
    cityscapes, idx, images, inputs, masks, mnist, npz, photos, scene_frames,
)
from qbench.data.base import DATASETS, DatasetKind
from qbench.errors import QbenchError


def parse(text: str) -> tuple[DatasetKind, Path | None]:
    """``KIND`` or ``KIND:PATH`` -> the kind and the (expanded, absolute) path; checks that the path exists."""
    kind_id, sep, raw = text.partition(":")
    if kind_id not in DATASETS:
        raise QbenchError(f"unknown dataset {kind_id!r} in dataset={text}", f"use {choices(', ')}")
    kind = DATASETS.get(kind_id)
    path = kind.resolve(raw if sep else None)
    kind.check_path(path)
    return kind, path


def choices(separator: str = " | ") -> str:
    return separator.join(f"{k.id}:PATH" if k.takes_path else k.id for k in DATASETS.values())

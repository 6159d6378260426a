"""The 19 Cityscapes train classes, read from cityscapesscripts' label table (never retyped).

One place for names, colours and the labelId -> trainId map, shared by the real Cityscapes reader, the
procedural scenes and the sample pictures.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qbench.errors import QbenchError

IGNORE = 255  # trainId of every class the benchmark does not score
NUM_CLASSES = 19


@lru_cache(maxsize=None)
def _table() -> tuple:
    try:
        from cityscapesscripts.helpers.labels import labels
    except ImportError:
        raise QbenchError(
            "the Cityscapes class table comes from the cityscapesscripts package, which is not installed",
            "pip install -r requirements/build.txt -c requirements/constraints.txt (or cityscapesscripts==2.3.0)",
        ) from None
    return tuple(labels)


def _train_labels() -> list:
    train = sorted((lb for lb in _table() if 0 <= lb.trainId < IGNORE), key=lambda lb: lb.trainId)
    if [lb.trainId for lb in train] != list(range(NUM_CLASSES)):
        raise QbenchError(f"cityscapesscripts' table has trainIds {[lb.trainId for lb in train]}, not 0..18",
                          "install the pinned cityscapesscripts==2.3.0")
    return train


def class_names() -> tuple[str, ...]:
    """The 19 train classes, indexed by trainId."""
    return tuple(lb.name for lb in _train_labels())


def palette() -> np.ndarray:
    """The Cityscapes colours of the 19 train classes, (19, 3) uint8 indexed by trainId."""
    return np.array([lb.color for lb in _train_labels()], np.uint8)


def train_id_lut() -> tuple[np.ndarray, np.ndarray]:
    """``(lut, known)``: labelId -> trainId (255 for ignored classes) and which of 0..255 are label ids."""
    lut, known = np.full(256, IGNORE, np.uint8), np.zeros(256, bool)
    for lb in _table():
        if 0 <= lb.id < 256:  # "license plate" has id -1 and never occurs in a labelIds PNG
            lut[lb.id] = lb.trainId if 0 <= lb.trainId < IGNORE else IGNORE
            known[lb.id] = True
    return lut, known

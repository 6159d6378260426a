"""Procedural Cityscapes-style street scenes with exact per-pixel trainId labels.

A scene is a pinhole view down a street: a perspective road with lane markings, kerbs,
sidewalks and grass verges, facades on both sides (buildings with windows, vegetation,
walls, fences) closed by a far facade, sky with clouds, and objects standing on the
ground plane drawn back to front: poles with traffic signs, traffic lights and lamps,
trees, cars, trucks, buses, pedestrians, cyclists (rider on a bicycle), parked bicycles. Colours, textures, sun/overcast lighting with cast
shadows, haze, exposure, white balance, tone curve, vignetting, blur and sensor noise are
drawn per seed, and object colours deliberately overlap across classes (grey cars on
grey roads under grey skies...), so a per-pixel colour lookup does not solve the task:
shape and context are needed.

Labels are Cityscapes trainIds 0..18 (``CLASS_NAMES``, from
``cityscapesscripts.helpers.labels``); 255 (``IGNORE``) marks the ego-vehicle bonnet that
some frames show at the bottom. ``train`` and ``motorcycle`` are never drawn (too rare to
learn in a short training); the other 17 classes are.

The scene layout (camera, street, blocks, objects, colours) is drawn from the seed alone,
independently of the resolution, so the same seed renders the same scene at any size;
pixel noise is drawn from a second stream. Everything is deterministic bit for bit for a
given numpy version; per-pixel maths uses only + - * / comparisons and floor (no
transcendental functions), so results do not depend on SIMD math libraries.

Only numpy and the class table of cityscapesscripts are needed (no TensorFlow).

The package: ``sampling`` and ``placement`` draw a ``layout.Scene`` (typed, immutable) from the seed;
``render`` paints it on a ``canvas.Canvas`` with ``background`` and ``ground``, then the objects
(``vehicles``, ``people``, ``furniture``), and applies the camera's response.
"""

from __future__ import annotations

import numpy as np

from qbench.data.labels import IGNORE, NUM_CLASSES
from qbench.data.scenes.classes import CLASS_NAMES
from qbench.data.scenes.render import render
from qbench.data.scenes.sampling import sample_scene

__all__ = [
    "CLASS_NAMES",
    "NUM_CLASSES",
    "IGNORE",
    "SPLITS",
    "generate",
    "make_split",
    "split_seeds",
    "class_pixel_counts",
]

#: Seed ranges of the splits: split ``s`` uses seeds ``SPLITS[s] + i`` for ``0 <= i < 10**8``,
#: so train, calibration and eval frames never coincide.
SPLITS: dict[str, int] = {"train": 0, "calibration": 100_000_000, "eval": 200_000_000}
_SPLIT_SPAN = 100_000_000


def generate(seed: int, height: int = 256, width: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Render scene ``seed``: ``(image uint8 HxWx3 RGB, label uint8 HxW trainIds / 255)``."""
    if height < 16 or width < 16:
        raise ValueError(f"image too small: {height}x{width} (need at least 16x16)")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    layout_ss, pixel_ss = np.random.SeedSequence(seed).spawn(2)
    scene = sample_scene(np.random.default_rng(layout_ss))
    return render(scene, int(height), int(width), np.random.default_rng(pixel_ss))


def split_seeds(split: str, n: int, start: int = 0) -> np.ndarray:
    """Seeds of frames ``start .. start+n-1`` of ``split`` ('train', 'calibration' or 'eval')."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    if n < 0 or start < 0 or start + n > _SPLIT_SPAN:
        raise ValueError(f"frames {start}..{start + n} out of range for a split (max {_SPLIT_SPAN})")
    return SPLITS[split] + start + np.arange(n, dtype=np.int64)


def make_split(
    split: str, n: int, height: int = 256, width: int = 512, start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``start .. start+n-1`` of a split: ``(images uint8 NxHxWx3, labels uint8 NxHxW)``."""
    seeds = split_seeds(split, n, start)
    images = np.empty((n, height, width, 3), np.uint8)
    labels = np.empty((n, height, width), np.uint8)
    for i, s in enumerate(seeds):
        images[i], labels[i] = generate(int(s), height, width)
    return images, labels


def class_pixel_counts(labels: np.ndarray) -> np.ndarray:
    """Pixels per trainId (length 19) over any array of labels; ignore is not counted."""
    counts = np.bincount(np.asarray(labels, np.uint8).ravel(), minlength=256)
    return counts[:NUM_CLASSES]

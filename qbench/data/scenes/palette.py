"""Colour tables the layout draws from, and the jittered pick among them.

The tables overlap on purpose (grey cars, grey roads, grey skies...): a per-pixel colour lookup must not
solve the task.
"""

from __future__ import annotations

import numpy as np

BUILDING_COLOURS = np.array(
    [
        (150, 140, 125), (175, 165, 150), (200, 190, 170), (120, 115, 110), (95, 92, 90),
        (160, 95, 75), (135, 80, 65), (205, 180, 130), (180, 175, 180), (120, 130, 140),
        (215, 210, 200), (145, 150, 120), (170, 120, 95), (110, 100, 120), (190, 150, 150),
    ],
    np.float32,
)
CAR_COLOURS = np.array(
    [
        (200, 200, 205), (30, 30, 35), (120, 122, 128), (160, 162, 165), (20, 40, 90),
        (150, 25, 25), (230, 230, 228), (60, 70, 60), (95, 60, 40), (40, 80, 140),
        (180, 160, 120), (90, 90, 95), (210, 180, 40), (60, 30, 70), (100, 130, 110),
    ],
    np.float32,
)
BUS_COLOURS = np.array([(220, 190, 30), (200, 40, 40), (40, 90, 170), (230, 230, 230), (40, 140, 80)], np.float32)
CLOTH_COLOURS = np.array(
    [
        (30, 30, 35), (200, 200, 200), (70, 80, 120), (150, 40, 40), (40, 90, 60),
        (120, 100, 80), (180, 150, 90), (90, 90, 95), (200, 120, 60), (60, 50, 90),
        (150, 160, 170), (210, 190, 60), (120, 30, 80), (40, 60, 100), (110, 110, 60),
    ],
    np.float32,
)
SKIN = np.array([(230, 190, 160), (200, 150, 110), (150, 100, 70), (100, 70, 50), (240, 205, 180)], np.float32)
HAIR = np.array([(30, 25, 20), (90, 60, 35), (170, 140, 90), (120, 120, 120), (60, 30, 20)], np.float32)
PAVING = np.array([(170, 165, 160), (150, 140, 135), (185, 175, 150), (160, 110, 100), (125, 125, 130)], np.float32)


def pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 12.0) -> np.ndarray:
    """A palette colour, jittered per channel and kept inside 5..250."""
    c = palette[rng.integers(len(palette))] + rng.normal(0.0, jitter, 3)
    return np.clip(c, 5, 250).astype(np.float32)

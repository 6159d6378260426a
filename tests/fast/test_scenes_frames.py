"""The scene renderer's frames, pinned by digest: a refactor of ``qbench.data.scenes`` must draw the very same pixels
and labels (the shipped segmentation model was trained on them; its recipe digests their content, not the code).

The digests were taken with numpy 2.4.6 (the pinned version: the renderer is deterministic bit for bit per numpy
version) before the renderer became a package.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from qbench.data import scenes

FRAMES = {
    ("eval", 6, 256, 512): "4493e3dda1df26c60652755cad941f399106010ad8409770b47943ecf86a0a28",
    ("calibration", 4, 128, 256): "3dab7e74f2f3c59ca82f091e59ec137a6fc69b0574a59324e0c61b297e7d04e7",
    ("train", 8, 64, 128): "8693c18b8644c80c89c96e524551990450300314471895b9d316ecd12f89d8a4",
    ("train", 3, 256, 512): "d1c9bb42abfe337f932cf5dff488834fb8e2ecaa13a3884e189e27f6e80a24b0",
}
SEEDS = {(123457, 96, 160): "c40973de35596e106f5ce8bc14595d95c52f345b7695b778f50fc2d0d0b605cf",
         (7, 48, 48): "a06d277ef97b547a9a3cca80b2e78c8ac5ff144d43ef659174cb7870ff223def"}


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("split, n, height, width", list(FRAMES))
def test_splits_draw_the_pinned_frames(split, n, height, width):
    assert digest(*scenes.make_split(split, n, height, width)) == FRAMES[split, n, height, width], (
        f"the {split} frames changed (numpy {np.__version__}; pinned with 2.4.6)")


@pytest.mark.parametrize("seed, height, width", list(SEEDS))
def test_single_scenes_draw_the_pinned_frames(seed, height, width):
    assert digest(*scenes.generate(seed, height, width)) == SEEDS[seed, height, width]

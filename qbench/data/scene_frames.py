"""``dataset=scenes``: the procedural street scenes (``qbench.data.scenes``) as a dataset kind, at the model's size.

The renderer draws any frame of a split from its seed at any size, so the kind reads the size from the model it
fits (``fit``: height x width x 3) and draws 100 calibration frames, 60 evaluation frames (as the thesis evaluated
60 Cityscapes frames) and, only for a model that trains on them, 600 training frames; each split is drawn once and
cached. Splits use disjoint seed ranges. ``probe_digest`` digests the first frames of a split without keeping them:
what a trained model's recipe records of its training data (``qbench.models.deeplab_scenes``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qbench.cache import Cache, code_digest, make_key
from qbench.data.base import DATASETS, Data, DatasetKind, digest_arrays
from qbench.errors import QbenchError
from qbench.versions import build_versions

TRAIN_FRAMES = 600
EVAL_FRAMES = 60  # as the thesis evaluated 60 Cityscapes frames
CALIBRATION_FRAMES = 100


def renderer_digest() -> str:
    """The scene generator's and the class table's code, and the class names cityscapesscripts gives: what the
    frames are cached under (a change draws them again; whether it changed them is the frames' own digest)."""
    from qbench.data import labels, scenes

    return code_digest(scenes, labels, extra=repr(labels.class_names()))


def _parts(split: str, n: int, size: tuple[int, int], what: str = "scenes") -> dict[str, Any]:
    return {"dataset": what, "split": split, "frames": n, "size": list(size), "recipe": renderer_digest(),
            "numpy": build_versions().get("numpy")}


def split(cache: Cache, name: str, n: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A split's frames (uint8 RGB) and trainId labels at ``size``, drawn once and cached."""
    from qbench.data import scenes

    h, w = size

    def build(path: Path) -> dict[str, Any]:
        images, labels = scenes.make_split(name, n, h, w)
        np.savez(path, images=images, labels=labels)
        return {"dataset": "scenes", "split": name, "frames": n}

    artifact = cache.get_or_build("data", _parts(name, n, size), f"scenes-{name}.npz", build,
                                  label=f"{n} {name} scenes at {h}x{w}")
    with np.load(artifact.path) as npz:
        return npz["images"], npz["labels"]


def probe_digest(cache: Cache, name: str, n: int, size: tuple[int, int]) -> str:
    """The content digest of a split's first ``n`` frames, kept in the cache without the frames."""
    from qbench.data import scenes

    h, w = size

    def build(path: Path) -> dict[str, Any]:
        images, labels = scenes.make_split(name, n, h, w)
        path.write_text(digest_arrays("scenes", images, labels))
        return {}

    artifact = cache.get_or_build("data", _parts(name, n, size, "scenes-digest"), "content.sha256", build,
                                  label=f"{n} probe {name} scenes at {h}x{w}")
    return artifact.path.read_text().strip()


@DATASETS.register
class ScenesKind(DatasetKind):
    id = "scenes"
    task = "segmentation"
    description = "procedural Cityscapes-style street scenes (19 classes), drawn at the model's input size"
    example = "--qbench-model seg=seg.keras,dataset=scenes,range=0:255"
    takes_path = False
    default_range = (0.0, 255.0)

    def load(self, path, ctx, fit=None) -> Data:
        from qbench.data.labels import class_names

        if fit is None or len(fit) != 3 or fit[2] != 3:
            raise QbenchError(f"dataset=scenes draws RGB frames at the model's input size; the model takes {fit}",
                              "use it with a model whose input is height x width x 3")
        size = (int(fit[0]), int(fit[1]))
        calibration, _ = split(ctx.cache, "calibration", CALIBRATION_FRAMES, size)
        eval_x, eval_y = split(ctx.cache, "eval", EVAL_FRAMES, size)
        return Data(
            origin=f"scenes at {size[0]}x{size[1]}",
            calibration=calibration, eval_x=eval_x, eval_y=eval_y,
            digest=make_key({"calibration": _parts("calibration", CALIBRATION_FRAMES, size),
                             "eval": _parts("eval", EVAL_FRAMES, size)}),
            class_names=class_names(),
            training=lambda: split(ctx.cache, "train", TRAIN_FRAMES, size),
            split_rule="seeded splits of the renderer: 100 calibration and 60 evaluation frames (disjoint seeds)",
        )

"""``dataset=masks:DIR``: image / label-mask pairs for segmentation.

``DIR/images/<name>.png|jpg`` with ``DIR/masks/<name>.png`` (same stem): a mask is a single-channel (greyscale or
palette) PNG whose pixel value is the class id; **255 means "not scored"** (Cityscapes' ignore value). Class names
come from ``DIR/classes.txt`` (one per line, in id order) when present, else they are numbered and their count is
the model's output channels. With ``DIR/train/{images,masks}`` and ``DIR/test/{images,masks}`` 100 seeded training
pairs calibrate and the test pairs are evaluated; otherwise ``seeded_split`` divides the pairs. Images are resized
bilinearly to the model's input, masks by nearest neighbour to its output; pixels map to ``range=`` (default 0:255).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qbench.data.base import (DATASETS, IGNORE, SEEDED_SPLIT_RULE, TRAIN_TEST_RULE, Data, DatasetKind,
                              calibration_pick, digest_files, image_files, read_image, seeded_split, stack_images)
from qbench.data.preprocess import check_class_ids
from qbench.errors import QbenchError

LAYOUT = ("DIR/images/<name>.png|jpg and DIR/masks/<name>.png (pixel value = class id, 255 = ignore), "
          "optionally DIR/classes.txt and DIR/train/ + DIR/test/ with the same layout")
CLASSES_FILE = "classes.txt"


def read_pairs(folder: Path) -> tuple[list[Path], list[Path]]:
    for sub in ("images", "masks"):
        if not (folder / sub).is_dir():
            raise QbenchError(f"{folder} has no {sub}/ folder", f"dataset=masks: takes {LAYOUT}")
    images = {p.stem: p for p in image_files(folder / "images")}
    masks = {p.stem: p for p in image_files(folder / "masks")}
    if not images:
        raise QbenchError(f"{folder / 'images'} holds no images", f"dataset=masks: takes {LAYOUT}")
    if unpaired := sorted(images.keys() ^ masks.keys()):
        side = "mask" if unpaired[0] in images else "image"
        raise QbenchError(f"{folder}: {len(unpaired)} file(s) have no {side} of the same name: "
                          f"{', '.join(unpaired[:5])}", "give every image exactly one mask with the same file stem")
    names = sorted(images)
    return [images[n] for n in names], [masks[n] for n in names]


def read_masks(paths: list[Path], images: list[Path]) -> np.ndarray:
    masks = [read_image(p, "P") for p in paths]
    for mask, image, path in zip(masks, images, paths):
        from PIL import Image

        with Image.open(image) as img:
            size = img.size
        if mask.shape != (size[1], size[0]):
            raise QbenchError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but its image {image.name} is "
                              f"{size[0]}x{size[1]}", "give each image a mask of its own size")
    if len({m.shape for m in masks}) == 1:
        return np.stack(masks)
    out = np.empty(len(masks), object)
    out[:] = masks
    return out


def read_class_names(folder: Path) -> tuple[str, ...]:
    path = folder / CLASSES_FILE
    if not path.is_file():
        return ()
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not names or len(names) >= IGNORE:
        raise QbenchError(f"{path} lists {len(names)} classes", f"list 1 to {IGNORE - 1} class names, one per line")
    return names


@DATASETS.register
class MasksKind(DatasetKind):
    id = "masks"
    task = "segmentation"
    description = "image / mask pairs (mask pixel = class id, 255 = ignore; classes.txt optional)"
    example = "--qbench-model seg=seg.keras,dataset=masks:~/my-scenes"
    default_range = (0.0, 255.0)

    def load(self, path, ctx, fit=None) -> Data:
        if not path.is_dir():
            raise QbenchError(f"{path} is not a folder", f"dataset=masks: takes {LAYOUT}")
        names = read_class_names(path)
        if (path / "train").is_dir() and (path / "test").is_dir():
            train_images, _ = read_pairs(path / "train")
            eval_images, eval_masks = read_pairs(path / "test")
            calib_images = [train_images[i] for i in calibration_pick(len(train_images))]
            rule = TRAIN_TEST_RULE
        else:
            images, masks = read_pairs(path)
            calib, evaluated = seeded_split(len(images), str(path))
            calib_images = [images[i] for i in calib]
            eval_images, eval_masks = [images[i] for i in evaluated], [masks[i] for i in evaluated]
            rule = SEEDED_SPLIT_RULE
        y = read_masks(eval_masks, eval_images)
        if names:
            for mask, mask_path in zip(y, eval_masks):
                check_class_ids(np.asarray(mask)[None], len(names), f"masks:{path}", (str(mask_path),), ignore=IGNORE)
        return Data(
            origin=f"masks:{path}",
            calibration=stack_images(calib_images, str(path)),
            eval_x=stack_images(eval_images, str(path)),
            eval_y=y,
            digest=digest_files("masks", [*calib_images, *eval_images, *eval_masks],
                                extra=" ".join(names)),
            class_names=names,
            eval_names=tuple(str(p) for p in eval_masks),
            split_rule=rule,
        )


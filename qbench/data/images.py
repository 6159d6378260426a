"""``dataset=images:DIR``: one sub-folder per class, as Keras' ``image_dataset_from_directory`` reads them.

``DIR/<class>/*.png|jpg|jpeg|bmp|gif``; classes are the sub-folder names in sorted order (Keras' order, so label
``i`` means the ``i``-th name). With ``DIR/train/<class>/`` and ``DIR/test/<class>/`` (or ``val/``), 100 seeded
training images calibrate and the test images are evaluated; without them, ``seeded_split`` divides the images.
Any image size: images are resized bilinearly to the model's input and converted between grey and RGB as it
needs; pixels map to ``range=`` (default 0:255, what ``image_dataset_from_directory`` yields).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qbench.data.base import (DATASETS, SEEDED_SPLIT_RULE, TRAIN_TEST_RULE, Data, DatasetKind, calibration_pick,
                              digest_files, image_files, seeded_split, stack_images)
from qbench.errors import QbenchError

LAYOUT = "DIR/<class name>/<images> (one sub-folder per class), optionally under DIR/train/ and DIR/test/"
TEST_NAMES = ("test", "val", "validation")


def class_folders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def read_classes(folder: Path, names: list[str] | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """(image files, class ids, class names) of a class-per-folder tree; ``names`` fixes the class order."""
    folders = class_folders(folder)
    if not folders:
        raise QbenchError(f"{folder} has no class sub-folders", f"dataset=images: takes {LAYOUT}")
    found = [f.name for f in folders]
    if names is not None and found != names:
        raise QbenchError(f"{folder} has classes {found}, its training split {names}",
                          "give both splits the same class sub-folders")
    files, labels = [], []
    for label, sub in enumerate(folders):
        members = image_files(sub)
        files += members
        labels += [label] * len(members)
    if not files:
        raise QbenchError(f"{folder}'s class folders hold no images", f"put .png/.jpg files in {LAYOUT}")
    return files, np.asarray(labels, np.int64), found


@DATASETS.register
class ImagesKind(DatasetKind):
    id = "images"
    task = "classification"
    description = "a folder of class sub-folders of images (Keras' image_dataset_from_directory layout)"
    example = "--qbench-model flowers=flowers.keras,dataset=images:~/flowers"
    default_range = (0.0, 255.0)

    def load(self, path, ctx, fit=None) -> Data:
        if not path.is_dir():
            raise QbenchError(f"{path} is not a folder", f"dataset=images: takes {LAYOUT}")
        test = next((path / n for n in TEST_NAMES if (path / n).is_dir()), None)
        if (path / "train").is_dir() and test is not None:
            train_files, _, names = read_classes(path / "train")
            eval_files, eval_y, _ = read_classes(test, names)
            calib_files = [train_files[i] for i in calibration_pick(len(train_files))]
            rule = TRAIN_TEST_RULE
        else:
            files, labels, names = read_classes(path)
            calib, evaluated = seeded_split(len(files), str(path))
            calib_files, eval_files, eval_y = [files[i] for i in calib], [files[i] for i in evaluated], labels[evaluated]
            rule = SEEDED_SPLIT_RULE
        return Data(
            origin=f"images:{path}",
            calibration=stack_images(calib_files, str(path)),
            eval_x=stack_images(eval_files, str(path)),
            eval_y=eval_y,
            digest=digest_files("images", [*calib_files, *eval_files], extra=" ".join(names)),
            class_names=tuple(names),
            eval_names=tuple(str(p) for p in eval_files),
            split_rule=rule,
        )


"""Sample output images: valid, non-blank PNGs of a sane size, only inside the folder asked for."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qbench.data.labels import class_names, palette
from qbench.samples import (
    _comparison,
    colorize,
    pick_samples,
    write_classification_samples,
    write_segmentation_samples,
)

RNG = np.random.default_rng(0)


def digits(n: int = 40) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 6:22, 12:16] = 255  # a "1"-like stroke, so each cell shows something
    labels = RNG.integers(0, 10, n).astype(np.uint8)
    wrong = labels.copy()
    wrong[[3, 30]] = (labels[[3, 30]] + 1) % 10
    return images, labels, {"float32": labels.copy(), "dynamic": labels.copy(), "int8": wrong}


def scenes(n: int = 2, h: int = 64, w: int = 128):
    images = RNG.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    labels = np.zeros((n, h, w), np.uint8)
    labels[:, : h // 3] = 10  # sky
    labels[:, h // 3 : 2 * h // 3] = 2  # building
    labels[:, 2 * h // 3 :] = 0  # road
    labels[:, -4:] = 255  # ignore
    noisy = labels.copy()
    noisy[:, 40:50, 20:60] = 13  # a car where there is none
    predictions = {"float32": labels.copy(), "dynamic": noisy, "int8": noisy}
    results = {
        "float32": {"pixel_accuracy": 0.9, "miou": 0.6},
        "dynamic": {"pixel_accuracy": 0.9048, "miou": 0.5981},
        "int8": {"pixel_accuracy": 0.8975, "miou": 0.5967},
    }
    return images, labels, predictions, results


def assert_good_png(path, min_size=(300, 150)):
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert min_size[0] <= img.width <= 4000 and min_size[1] <= img.height <= 3000
        rgb = np.asarray(img.convert("RGB")).astype(np.int32)
    assert len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])) > 20  # not blank


def everything(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def test_classification_grid(tmp_path):
    images, labels, predictions = digits()
    out = tmp_path / "samples" / "mnist"
    written = write_classification_samples(images, labels, predictions, out, count=12)
    assert written == [out / "classification-samples.png"]
    assert everything(tmp_path) == [p.relative_to(tmp_path) for p in (tmp_path / "samples", out, *written)]
    assert_good_png(written[0], min_size=(800, 300))
    with Image.open(written[0]) as img:
        red = np.all(np.asarray(img.convert("RGB")) == (214, 39, 40), axis=-1)
    assert red.sum() > 100  # the wrong int8 predictions are framed in red


def test_pick_samples_shows_some_wrong_ones():
    _, labels, predictions = digits()
    picked = pick_samples(labels, predictions, 12)
    assert len(picked) == 12 and picked == sorted(set(picked))
    assert {3, 30} <= set(picked)
    assert pick_samples(labels, {"float32": labels}, 5) == [0, 1, 2, 3, 4]


def test_segmentation_samples_per_sample_and_mode(tmp_path):
    images, labels, predictions, results = scenes()
    names = class_names()
    written = write_segmentation_samples(images, labels, predictions, results, tmp_path, names, indices=[0, 1])
    assert [p.name for p in written] == [f"segmentation-{i:04d}-{m}.png" for i in (0, 1) for m in predictions]
    assert everything(tmp_path) == sorted(p.relative_to(tmp_path) for p in written)  # no temp files left
    for path in written:
        assert_good_png(path, min_size=(1000, 250))


def test_segmentation_needs_uint8_rgb_and_matching_predictions(tmp_path):
    images, labels, predictions, results = scenes()
    names = class_names()
    with pytest.raises(ValueError, match="uint8 N x H x W x 3"):
        write_segmentation_samples(images.astype(np.float32), labels, predictions, results, tmp_path, names)
    with pytest.raises(ValueError, match="predictions of int8 have shape"):
        write_segmentation_samples(images, labels, {**predictions, "int8": labels[:, :10]}, results, tmp_path, names)
    assert everything(tmp_path) == []


def test_colorize_uses_the_cityscapes_palette():
    painted = colorize(np.array([[0, 13, 255]], np.uint8), palette())
    assert painted.tolist() == [[[128, 64, 128], [0, 0, 142], [0, 0, 0]]]  # road, car, ignore


def test_caption_in_the_thesis_wording():
    _, _, _, results = scenes()
    assert _comparison("dynamic", results["dynamic"], results["float32"], "float32") == (
        "0.48 pp more pixel accuracy and 0.0019 less mIoU than float32"
    )
    assert _comparison("float16", results["float32"], results["float32"], "float32") == (
        "same pixel accuracy and mIoU as float32"
    )
    assert _comparison("float32", results["float32"], results["float32"], "float32") == "float32 is the baseline"

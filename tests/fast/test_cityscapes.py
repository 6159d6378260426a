"""The real-Cityscapes loader on a tiny folder in the real layout, written by the tests themselves."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from qbench.cache import Cache
from qbench.data import cityscapes
from qbench.errors import QbenchError
from qbench.pipeline.datasets import Datasets

H, W = 64, 128
# labelIds the frames use, with the trainIds cityscapesscripts gives them (0 unlabeled, 1 ego vehicle, 4 static
# are ignored; 7 road, 8 sidewalk, 11 building, 23 sky, 26 car, 33 bicycle are train classes)
TRAIN_ID = {0: 255, 1: 255, 4: 255, 7: 0, 8: 1, 11: 2, 23: 10, 26: 13, 33: 18}
SEED = {"val": 0, "train": 100}
FRAMES = {
    "val": ["aachen_000000_000019", "aachen_000001_000019", "aachen_000002_000019", "bremen_000000_000019",
            "bremen_000003_000019"],
    "train": ["zurich_000000_000019", "zurich_000001_000019"],
}


def frame_arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random RGB image and a labelIds map made of 8x8 blocks (so a 2x nearest downscale is exact)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    blocks = rng.choice(list(TRAIN_ID), (H // 8, W // 8)).astype(np.uint8)
    return image, np.kron(blocks, np.ones((8, 8), np.uint8))


def write_frame(root, split, name, image, ids) -> None:
    city = name.split("_")[0]
    for sub, suffix, array in (("leftImg8bit", "_leftImg8bit.png", image), ("gtFine", "_gtFine_labelIds.png", ids)):
        folder = root / sub / split / city
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(folder / f"{name}{suffix}")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "cityscapes"
    for split, names in FRAMES.items():
        for i, name in enumerate(names):
            write_frame(root, split, name, *frame_arrays(SEED[split] + i))
    return root


def expected(split, n=None):
    return [frame_arrays(SEED[split] + i) for i in range(len(FRAMES[split]))][:n]


def to_train_ids(ids: np.ndarray) -> np.ndarray:
    return np.vectorize(TRAIN_ID.get)(ids).astype(np.uint8)


def test_native_size_is_exact(root):
    data = cityscapes.load(root, "val", frames=None, height=H, width=W)
    assert data.names == tuple(FRAMES["val"])
    assert data.images.dtype == np.uint8 and data.images.shape == (5, H, W, 3)
    assert data.labels.dtype == np.uint8 and data.labels.shape == (5, H, W)
    for (image, ids), got_image, got_label in zip(expected("val"), data.images, data.labels):
        np.testing.assert_array_equal(got_image, image)
        np.testing.assert_array_equal(got_label, to_train_ids(ids))
    assert len(data.class_names) == 19 and data.class_names[:3] == ("road", "sidewalk", "building")
    assert data.class_names[18] == "bicycle"


def test_resized_bilinear_images_and_nearest_labels(root):
    data = cityscapes.load(root, "val", frames=None, height=H // 2, width=W // 2)
    assert data.images.shape == (5, H // 2, W // 2, 3) and data.labels.shape == (5, H // 2, W // 2)
    for (image, ids), got_image, got_label in zip(expected("val"), data.images, data.labels):
        reference = Image.fromarray(image).resize((W // 2, H // 2), Image.Resampling.BILINEAR)
        np.testing.assert_array_equal(got_image, np.asarray(reference))
        np.testing.assert_array_equal(got_label, to_train_ids(ids[::2, ::2]))  # 8x8 blocks: any sampled pixel
    assert set(np.unique(data.labels)) <= {0, 1, 2, 10, 13, 18, 255}


def test_first_frames_in_sorted_order_and_digest(root, monkeypatch):
    monkeypatch.setenv(cityscapes.ENV_VAR, str(root))
    three = cityscapes.load(None, "val", frames=3, height=32, width=64)  # root from $CITYSCAPES_DATASET
    assert three.names == tuple(FRAMES["val"][:3])
    np.testing.assert_array_equal(three.labels, cityscapes.load(root, "val", 5, 32, 64).labels[:3])
    assert three.digest == cityscapes.load(root, "val", 3, 32, 64).digest
    assert three.digest != cityscapes.load(root, "val", 3, 64, 128).digest
    assert three.digest != cityscapes.load(root, "val", 4, 32, 64).digest
    write_frame(root, "val", FRAMES["val"][0], *frame_arrays(999))  # same names, new content
    assert three.digest != cityscapes.load(root, "val", 3, 32, 64).digest


def error(root, **kwargs) -> str:
    with pytest.raises(QbenchError) as exc:
        cityscapes.load(root, **{"height": 32, "width": 64, "frames": None, **kwargs})
    assert exc.value.fix
    return exc.value.problem


def test_missing_root(tmp_path, monkeypatch):
    assert "does not exist" in error(tmp_path / "nowhere")
    monkeypatch.delenv(cityscapes.ENV_VAR, raising=False)
    assert "no Cityscapes folder given" in error(None)


@pytest.mark.parametrize("sub", ["gtFine", "leftImg8bit"])
def test_missing_top_folder(root, sub):
    import shutil

    shutil.rmtree(root / sub)
    assert f"has no {sub}/ folder" in error(root)


def test_image_without_label_is_named(root):
    (root / "gtFine/val/bremen/bremen_000003_000019_gtFine_labelIds.png").unlink()
    problem = error(root)
    assert "1 Cityscapes val image(s) have no" in problem and "bremen_000003_000019" in problem


def test_label_without_image_is_named(root):
    (root / "leftImg8bit/val/aachen/aachen_000001_000019_leftImg8bit.png").unlink()
    problem = error(root)
    assert "label(s) have no" in problem and "aachen_000001_000019" in problem


def test_label_size_differs_from_image(root):
    image, ids = frame_arrays(1)
    write_frame(root, "val", "aachen_000000_000019", image, ids[:32])
    problem = error(root)
    assert "aachen_000000_000019_gtFine_labelIds.png is 128x32 but its image" in problem


def test_unknown_label_ids_are_named(root):
    image, ids = frame_arrays(1)
    ids[0, :3] = [34, 200, 34]
    write_frame(root, "val", "bremen_000000_000019", image, ids)
    problem = error(root)
    assert "has values [34, 200] that are not Cityscapes label ids" in problem
    assert "bremen_000000_000019_gtFine_labelIds.png" in problem


def test_colour_label_png_is_refused(root):
    image, _ = frame_arrays(1)
    write_frame(root, "val", "bremen_000000_000019", image, image)
    assert "is a RGB PNG, not an 8-bit labelIds map" in error(root)


def test_empty_split_and_too_many_frames(root):
    assert "split 'test'" in error(root, split="test") and "splits found: train, val" in error(root, split="test")
    assert "6 Cityscapes val frames requested but" in error(root, frames=6)
    assert "at least 1" in error(root, frames=0)


def test_the_cityscapes_dataset_kind_reads_val_to_evaluate_and_train_to_calibrate(root, tmp_path, monkeypatch):
    """dataset=cityscapes: val frames for evaluation, train frames for calibration, read at the model's size."""
    from qbench import data as registry
    from qbench.config import defaults

    ws = Datasets(defaults(cityscapes=str(root), cityscapes_frames=4), Cache(tmp_path / "cache"))
    monkeypatch.setattr(cityscapes, "CALIBRATION_FRAMES", 2)
    kind, path = registry.parse("cityscapes")
    got = kind.load(path, ws, fit=(32, 64, 3))
    data = cityscapes.load(root, "val", 4, 32, 64)
    assert got.class_names == data.class_names and got.pixels and got.eval_names == data.names
    np.testing.assert_array_equal(got.eval_x, data.images)
    np.testing.assert_array_equal(got.eval_y, data.labels)
    train = cityscapes.load(root, "train", 2, 32, 64)
    np.testing.assert_array_equal(got.calibration, train.images)
    assert got.digest == f"{data.digest}+{train.digest}"
    with pytest.raises(QbenchError, match="takes no path"):
        registry.parse(f"cityscapes:{root}")

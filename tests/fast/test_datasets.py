"""Dataset kinds (qbench/data/): what each reads, how it splits, how samples fit a model, and every bad input as
one clear error that names the file and the fix. No TensorFlow here: the data side of "bring your own model"."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from PIL import Image

import byo
from qbench.cache import Cache
from qbench import config
from qbench import data as registry
from qbench.data.base import seeded_split
from qbench.data.preprocess import check_class_ids, fit_inputs, fit_masks, scale_pixels
from qbench.errors import QbenchError
from qbench.pipeline.datasets import Datasets


@pytest.fixture
def ws(tmp_path):
    """What a dataset kind receives: the settings and a cache."""
    return Datasets(config.defaults(), Cache(tmp_path / "cache"))


def load(ws, text):
    kind, path = registry.parse(text)
    return kind.load(path, ws)


def small_bars(n=60, seed=0):
    return byo.bars(n, seed)


# ---- idx ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_idx_reads_any_counts_and_calibrates_from_train(ws, tmp_path, compress):
    x, y = small_bars(150)
    xt, yt = small_bars(37, 1)
    byo.write_idx_set(tmp_path / "set", x, y, xt, yt, compress=compress)
    data = load(ws, f"idx:{tmp_path / 'set'}")
    assert data.eval_x.shape == (37, 28, 28) and np.array_equal(data.eval_y, yt)
    assert len(data.calibration) == 100 and data.pixels and data.images
    rows = {r.tobytes() for r in x}
    assert all(c.tobytes() in rows for c in data.calibration)  # calibration comes from the training split only
    assert data.digest == load(ws, f"idx:{tmp_path / 'set'}").digest


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("cut", [3, 10, -5], ids=["inside-magic", "inside-header", "body"])
def test_truncated_idx_is_one_error_naming_the_file(ws, tmp_path, compress, cut):
    x, y = small_bars(20)
    byo.write_idx_set(tmp_path / "set", x, y, x, y, compress=compress)
    name = "t10k-images-idx3-ubyte" + (".gz" if compress else "")
    path = tmp_path / "set" / name
    raw = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
    cut_raw = raw[:cut]
    path.write_bytes(gzip.compress(cut_raw)[: max(12, len(gzip.compress(cut_raw)) - 4)] if compress else cut_raw)
    with pytest.raises(QbenchError) as exc:
        load(ws, f"idx:{tmp_path / 'set'}")
    assert name in exc.value.problem and exc.value.fix
    assert any(w in exc.value.problem for w in ("truncated", "corrupt", "not an IDX"))


def test_idx_folder_missing_a_file_and_mismatched_counts(ws, tmp_path):
    x, y = small_bars(20)
    byo.write_idx_set(tmp_path / "set", x, y, x, y[:10], compress=False)
    with pytest.raises(QbenchError, match="20 test images but 10 labels"):
        load(ws, f"idx:{tmp_path / 'set'}")
    (tmp_path / "set" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(QbenchError, match="has no y test IDX file"):
        load(ws, f"idx:{tmp_path / 'set'}")


# ---- npz ---------------------------------------------------------------------------------------------------

def test_npz_with_splits_and_with_x_y(ws, tmp_path):
    x, y = small_bars(200)
    np.savez(tmp_path / "splits.npz", x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])
    data = load(ws, f"npz:{tmp_path / 'splits.npz'}")
    assert np.array_equal(data.eval_x, x[150:]) and len(data.calibration) == 100
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    data = load(ws, f"npz:{tmp_path / 'xy.npz'}")
    calib, evaluated = seeded_split(200, "x")
    assert len(calib) == 40 and len(data.eval_x) == 160 and np.array_equal(data.eval_y, y[evaluated])
    assert not set(calib) & set(evaluated)


@pytest.mark.parametrize("arrays, problem", [
    (dict(x=np.zeros((4, 2), np.uint8)), "has no y array"),
    (dict(x_train=np.zeros((4, 2), np.uint8), y_train=np.zeros(4), x_test=np.zeros((3, 2), np.uint8)),
     "has no y_test array"),
    (dict(x=np.zeros((4, 2), np.uint8), y=np.zeros(5)), "x has 4 samples but y has 5"),
    (dict(x=np.array([["a"]] * 4), y=np.zeros(4)), "x is <U1"),
])
def test_bad_npz_is_one_error(ws, tmp_path, arrays, problem):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(QbenchError, match=problem) as exc:
        load(ws, f"npz:{tmp_path / 'bad.npz'}")
    assert "bad.npz" in exc.value.problem and exc.value.fix


def _poisoned(n: int, sample: int, value: float, shape=(6, 6)) -> np.ndarray:
    x = np.random.default_rng(0).random((n, *shape)).astype(np.float32)
    x[sample].flat[7] = value
    return x


@pytest.mark.parametrize("arrays, named", [
    (lambda: dict(x_train=_poisoned(300, 213, np.nan), y_train=np.arange(300) % 10,
                  x_test=_poisoned(50, 0, 0.5), y_test=np.arange(50) % 10),
     "NaN values in array x_train, first in sample 213 (its value #7)"),
    (lambda: dict(x=_poisoned(80, 5, np.inf), y=np.arange(80) % 10), "infinite values in array x, first in sample 5"),
    (lambda: dict(x=_poisoned(80, 1, 0.5), y=np.where(np.arange(80) == 9, np.nan, np.arange(80) % 10)),
     "NaN values in array y, first in sample 9"),
])
def test_nan_or_inf_anywhere_in_an_npz_is_one_error_naming_array_and_sample(ws, tmp_path, arrays, named):
    """Even in training samples calibration does not pick: the whole file is the user's data (a NaN in one pixel
    of x_train segfaulted TFLiteConverter's int8 calibration)."""
    np.savez(tmp_path / "poisoned.npz", **arrays())
    with pytest.raises(QbenchError) as exc:
        load(ws, f"npz:{tmp_path / 'poisoned.npz'}")
    assert exc.value.problem == f"{tmp_path / 'poisoned.npz'}: {named}" or named in exc.value.problem
    assert str(tmp_path / "poisoned.npz") in exc.value.problem and "drop or repair" in exc.value.fix


def test_nan_in_unlabelled_inputs_and_in_any_kinds_calibration_is_refused(ws, tmp_path):
    np.savez(tmp_path / "inputs.npz", x=_poisoned(40, 3, np.nan))
    with pytest.raises(QbenchError, match="NaN values in array x, first in sample 3"):
        load(ws, f"inputs:{tmp_path / 'inputs.npz'}")
    from qbench.data.base import Data

    with pytest.raises(QbenchError, match=r"a kind: NaN values in the calibration samples, first in sample 2 \(its "
                                          r"value #7; 2 samples in all\)"):
        x = _poisoned(5, 2, np.nan)
        x[4, 0] = np.nan
        Data(origin="a kind", calibration=x, eval_x=np.zeros((3, 6, 6), np.float32), eval_y=None, digest="d")


def test_not_an_npz(ws, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(QbenchError, match="bad.npz is not a readable .npz"):
        load(ws, f"npz:{tmp_path / 'bad.npz'}")


# ---- images ------------------------------------------------------------------------------------------------

def test_images_with_train_test_and_with_one_tree(ws, tmp_path):
    x, y = small_bars(60)
    byo.write_image_folders(tmp_path / "tt" / "train", x[:40], y[:40], scale=2)
    byo.write_image_folders(tmp_path / "tt" / "test", x[40:], y[40:])
    data = load(ws, f"images:{tmp_path / 'tt'}")
    names = sorted({f"class_{v}" for v in y[:40]})
    assert data.class_names == tuple(names) and len(data.eval_x) == 20 and len(data.calibration) == 40
    assert data.calibration.shape[1:] == (56, 56) and data.eval_x.shape[1:] == (28, 28)
    byo.write_image_folders(tmp_path / "flat", x, y)
    flat = load(ws, f"images:{tmp_path / 'flat'}")
    assert len(flat.calibration) == 12 and len(flat.eval_x) == 48


def test_images_folder_without_class_folders(ws, tmp_path):
    (tmp_path / "pics").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "pics" / "a.png")
    with pytest.raises(QbenchError, match="has no class sub-folders") as exc:
        load(ws, f"images:{tmp_path / 'pics'}")
    assert "one sub-folder per class" in exc.value.fix


def test_unreadable_image_is_named(ws, tmp_path):
    x, y = small_bars(20)
    byo.write_image_folders(tmp_path / "pics", x, y)
    broken = next((tmp_path / "pics").rglob("*.png"))
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(QbenchError, match="is not a readable image") as exc:
        load(ws, f"images:{tmp_path / 'pics'}")
    assert str(broken) in exc.value.problem


def test_test_split_with_other_classes(ws, tmp_path):
    x, y = small_bars(30)
    byo.write_image_folders(tmp_path / "tt" / "train", x, y)
    byo.write_image_folders(tmp_path / "tt" / "test", x[y != y[0]], y[y != y[0]])
    with pytest.raises(QbenchError, match="its training split"):
        load(ws, f"images:{tmp_path / 'tt'}")


# ---- masks -------------------------------------------------------------------------------------------------

def test_masks_with_class_names_and_ignore(ws, tmp_path):
    x, y = byo.shapes(20, 0)
    byo.write_mask_folder(tmp_path / "m", x, y)
    data = load(ws, f"masks:{tmp_path / 'm'}")
    assert data.class_names == byo.SEG_CLASSES and data.eval_y.shape[1:] == (32, 32)
    assert set(np.unique(data.eval_y)) <= {0, 1, 2, 255}


def test_mask_values_beyond_the_classes_are_named(ws, tmp_path):
    x, y = byo.shapes(20, 0)
    y[:, 0, 0] = 7  # 7 is no class of classes.txt (and not the ignore value 255)
    byo.write_mask_folder(tmp_path / "m", x, y)
    with pytest.raises(QbenchError) as exc:
        load(ws, f"masks:{tmp_path / 'm'}")
    assert "[7]" in exc.value.problem and "0..2 or 255 (ignore)" in exc.value.problem
    assert ".png" in exc.value.problem and "classes.txt" in exc.value.fix


def test_unpaired_and_wrongly_sized_masks(ws, tmp_path):
    x, y = byo.shapes(6, 0)
    byo.write_mask_folder(tmp_path / "m", x, y)
    i = int(seeded_split(6, "")[1][0])  # an evaluated pair
    (tmp_path / "m" / "masks" / f"{i:04d}.png").unlink()
    with pytest.raises(QbenchError, match=f"have no mask of the same name: {i:04d}"):
        load(ws, f"masks:{tmp_path / 'm'}")
    Image.fromarray(y[i][:16]).save(tmp_path / "m" / "masks" / f"{i:04d}.png")
    with pytest.raises(QbenchError, match=f"{i:04d}.png is 32x16 but its image {i:04d}.png is 32x32"):
        load(ws, f"masks:{tmp_path / 'm'}")


def test_rgb_mask_is_refused(ws, tmp_path):
    x, y = byo.shapes(6, 0)
    byo.write_mask_folder(tmp_path / "m", x, y)
    i = int(seeded_split(6, "")[1][0])
    Image.fromarray(x[i]).save(tmp_path / "m" / "masks" / f"{i:04d}.png")
    with pytest.raises(QbenchError, match="is a RGB image, not a single-channel class-id map"):
        load(ws, f"masks:{tmp_path / 'm'}")


# ---- inputs ------------------------------------------------------------------------------------------------

def test_inputs_folder_and_npz(ws, tmp_path):
    x, _ = small_bars(10)
    (tmp_path / "pics").mkdir()
    for i, image in enumerate(x):
        Image.fromarray(image).save(tmp_path / "pics" / f"{i}.png")
    data = load(ws, f"inputs:{tmp_path / 'pics'}")
    assert data.eval_y is None and len(data.calibration) == 2 and len(data.eval_x) == 8
    np.savez(tmp_path / "in.npz", x=np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32),
             calibration=np.zeros((3, 5), np.float32))
    arrays = load(ws, f"inputs:{tmp_path / 'in.npz'}")
    assert len(arrays.eval_x) == 10 and len(arrays.calibration) == 3 and not arrays.pixels


def test_inputs_npz_that_names_no_inputs(ws, tmp_path):
    np.savez(tmp_path / "in.npz", a=np.zeros((3, 2)), b=np.zeros((3, 2)))
    with pytest.raises(QbenchError, match="which are the inputs"):
        load(ws, f"inputs:{tmp_path / 'in.npz'}")


# ---- registry and preprocessing ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, problem", [
    ("imagenet:/x", "unknown dataset 'imagenet'"),
    ("images", "dataset=images needs a path"),
    ("mnist:/x", "dataset=mnist takes no path"),
    ("idx:/definitely/not/here", "does not exist"),
])
def test_dataset_option_errors(text, problem):
    with pytest.raises(QbenchError, match=problem):
        registry.parse(text)


def test_fit_inputs_reshapes_resizes_and_converts_channels():
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert fit_inputs(x, (784,), images=False, origin="o").shape == (2, 784)
    assert fit_inputs(x, (28, 28, 1), images=False, origin="o").shape == (2, 28, 28, 1)
    rgb = fit_inputs(x, (14, 14, 3), images=True, origin="o")
    assert rgb.shape == (2, 14, 14, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    with pytest.raises(QbenchError, match="cannot be shaped to the model's input 14x14x3") as exc:
        fit_inputs(x, (14, 14, 3), images=False, origin="npz:a.npz")
    assert "npz:a.npz" in exc.value.problem and "never resized" in exc.value.fix


def test_scale_pixels_maps_0_and_255_to_the_range_ends():
    assert scale_pixels(np.array([0, 255], np.uint8), (-1.0, 1.0)).tolist() == [-1.0, 1.0]
    assert scale_pixels(np.array([0, 255], np.uint8), (0.0, 255.0)).tolist() == [0.0, 255.0]


def test_masks_resize_by_nearest_neighbour_and_class_ids_are_checked():
    y = np.zeros((1, 4, 4), np.uint8)
    y[0, :2] = 2
    assert set(np.unique(fit_masks(y, (8, 8), "o"))) == {0, 2}  # never a blended class 1
    check_class_ids(np.array([0, 1, 255]), 2, "o", ignore=255)
    with pytest.raises(QbenchError, match=r"label value\(s\) \[2\]"):
        check_class_ids(np.array([0, 2]), 2, "o")

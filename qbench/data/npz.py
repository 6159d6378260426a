"""``dataset=npz:FILE``: labelled arrays in one ``.npz``.

Either ``x_train, y_train, x_test, y_test`` (100 seeded training samples calibrate, the test split is evaluated)
or ``x, y`` (a seeded split: ``qbench.data.base.seeded_split``). ``y`` holds class ids (N,) for classification or
masks (N, H, W) for segmentation (``task=segmentation``; 255 = ignore). uint8 ``x`` are pixels that ``range=``
maps (default 0:1); float ``x`` are used as they are (already preprocessed), only reshaped to the model's input.
Optional ``class_names``: an array of names.
"""

from __future__ import annotations

import zipfile

import numpy as np

from qbench.data.base import (DATASETS, SEEDED_SPLIT_RULE, TRAIN_TEST_RULE, Data, DatasetKind, calibration_pick,
                              digest_files, require_finite, seeded_split)
from qbench.errors import QbenchError

LAYOUT = "an .npz with arrays x_train, y_train, x_test, y_test (or x, y), e.g. np.savez(FILE, x=..., y=...)"


def read_npz(path, fix: str = LAYOUT) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:  # our handle: closed even if np.load fails
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise QbenchError(f"{path} is not a readable .npz ({exc.__class__.__name__}: {exc})", fix) from None


def _pair(arrays: dict, x: str, y: str, path) -> tuple[np.ndarray, np.ndarray]:
    missing = [k for k in (x, y) if k not in arrays]
    if missing:
        raise QbenchError(f"{path} has no {', '.join(missing)} array (it has {', '.join(sorted(arrays)) or 'none'})",
                          LAYOUT)
    if len(arrays[x]) != len(arrays[y]):
        raise QbenchError(f"{path}: {x} has {len(arrays[x])} samples but {y} has {len(arrays[y])}",
                          f"give {x} and {y} the same length (one label per sample)")
    if arrays[x].dtype.kind not in "uif" or (arrays[x].dtype.kind != "f" and arrays[x].dtype != np.uint8):
        raise QbenchError(f"{path}: {x} is {arrays[x].dtype}", "store inputs as uint8 pixels or float32 values")
    return arrays[x], arrays[y]


@DATASETS.register
class NpzKind(DatasetKind):
    id = "npz"
    task = "classification"
    description = "labelled arrays in an .npz: x_train,y_train,x_test,y_test or x,y (seeded split)"
    example = "--qbench-model net=net.keras,dataset=npz:data.npz"

    def load(self, path, ctx, fit=None) -> Data:
        arrays = read_npz(path)
        for name in ("x_train", "y_train", "x_test", "y_test", "x", "y"):  # all of them, not just those sampled
            require_finite(arrays.get(name), f"array {name}", str(path))
        training = None  # a seeded split has no training samples beyond the calibration ones
        if "x_test" in arrays or "x_train" in arrays:
            x_train, y_train = _pair(arrays, "x_train", "y_train", path)
            training = lambda: (x_train, y_train)  # noqa: E731  (quantization-aware fine-tuning; digested with the file)
            x_test, y_test = _pair(arrays, "x_test", "y_test", path)
            calibration, rule = x_train[calibration_pick(len(x_train))], TRAIN_TEST_RULE
        else:
            x, y = _pair(arrays, "x", "y", path)
            calib, evaluated = seeded_split(len(x), str(path))
            calibration, x_test, y_test, rule = x[calib], x[evaluated], y[evaluated], SEEDED_SPLIT_RULE
        names = tuple(str(n) for n in arrays.get("class_names", ()))
        return Data(
            origin=f"npz:{path}",
            calibration=calibration,
            eval_x=x_test,
            eval_y=y_test,
            digest=digest_files("npz", [path]),
            class_names=names,
            pixels=x_test.dtype == np.uint8,
            images=x_test.dtype == np.uint8,
            split_rule=rule,
            training=training,
        )


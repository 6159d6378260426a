"""``dataset=inputs:DIR|FILE``: unlabelled inputs, for the fidelity task (each mode scored against float32).

- a folder of images (any size; resized to the model's input, grey/RGB converted, pixels mapped to ``range=``,
  default 0:255), either flat or as ``DIR/calibration/`` + ``DIR/eval/``;
- an ``.npz`` holding the inputs as ``x`` (or its only array), optionally with ``calibration``: uint8 arrays are
  pixels (``range=``, default 0:255), float arrays are used as they are.
Without a separate calibration set, ``seeded_split`` divides the inputs.
"""

from __future__ import annotations

import numpy as np

from qbench.data.base import (DATASETS, SEEDED_SPLIT_RULE, Data, DatasetKind, digest_files, image_files,
                              require_finite, seeded_split, stack_images)
from qbench.data.npz import read_npz
from qbench.errors import QbenchError

LAYOUT = ("a folder of images (flat, or calibration/ + eval/), or an .npz with x (or one array) and optionally "
          "calibration")
SEPARATE_RULE = "the calibration set is given separately; every other input is evaluated"


@DATASETS.register
class InputsKind(DatasetKind):
    id = "inputs"
    task = "fidelity"
    description = "unlabelled inputs: a folder of images or an .npz of arrays (scored against float32)"
    example = "--qbench-model face=face_detection.tflite,dataset=inputs:~/photos"
    default_range = (0.0, 255.0)

    def load(self, path, ctx, fit=None) -> Data:
        if path.is_dir():
            return self._folder(path)
        if path.suffix == ".npz":
            return self._npz(path)
        raise QbenchError(f"{path} is neither a folder of images nor an .npz", f"dataset=inputs: takes {LAYOUT}")

    def _folder(self, path) -> Data:
        if (path / "calibration").is_dir() and (path / "eval").is_dir():
            calib_files, eval_files = image_files(path / "calibration"), image_files(path / "eval")
            rule = SEPARATE_RULE
        else:
            files = image_files(path)
            if not files:
                raise QbenchError(f"{path} holds no images (.png, .jpg, .jpeg, .bmp, .gif)",
                                  f"dataset=inputs: takes {LAYOUT}")
            calib, evaluated = seeded_split(len(files), str(path))
            calib_files, eval_files = [files[i] for i in calib], [files[i] for i in evaluated]
            rule = SEEDED_SPLIT_RULE
        for name, files in (("calibration", calib_files), ("eval", eval_files)):
            if not files:
                raise QbenchError(f"{path / name} holds no images", f"dataset=inputs: takes {LAYOUT}")
        return Data(
            origin=f"inputs:{path}",
            calibration=stack_images(calib_files, str(path)),
            eval_x=stack_images(eval_files, str(path)),
            eval_y=None,
            digest=digest_files("inputs", [*calib_files, *eval_files]),
            eval_names=tuple(str(p) for p in eval_files),
            split_rule=rule,
        )

    def _npz(self, path) -> Data:
        arrays = read_npz(path, LAYOUT)
        names = [k for k in arrays if k != "calibration"]
        key = "x" if "x" in arrays else (names[0] if len(names) == 1 else None)
        if key is None:
            raise QbenchError(f"{path} has arrays {', '.join(sorted(arrays)) or 'none'}; which are the inputs?",
                              "name the inputs x (and the calibration set calibration)")
        x = arrays[key]
        for name in (key, "calibration"):
            require_finite(arrays.get(name), f"array {name}", str(path))
        if x.dtype.kind not in "uif" or x.ndim < 2:
            raise QbenchError(f"{path}: {key} is {x.dtype}{list(x.shape)}, not a batch of numeric inputs",
                              "store N inputs as one uint8 or float32 array of shape (N, ...)")
        if "calibration" in arrays:
            calibration, evaluated, rule = arrays["calibration"], x, SEPARATE_RULE
            if calibration.shape[1:] != x.shape[1:] or calibration.dtype != x.dtype:
                raise QbenchError(f"{path}: calibration is {calibration.dtype}{list(calibration.shape)} but {key} is "
                                  f"{x.dtype}{list(x.shape)}", "give both the same per-sample shape and dtype")
        else:
            calib, keep = seeded_split(len(x), str(path))
            calibration, evaluated, rule = x[calib], x[keep], SEEDED_SPLIT_RULE
        pixels = x.dtype == np.uint8
        return Data(origin=f"inputs:{path}", calibration=calibration, eval_x=evaluated, eval_y=None,
                    digest=digest_files("inputs", [path]), pixels=pixels, images=pixels, split_rule=rule)


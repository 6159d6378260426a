"""Fit a dataset's raw samples to a model's input, and its labels to the model's output.

The rules, in order (README, *Bring your own model*):
1. samples already shaped like the model's input (per sample) are taken as they are;
2. the same number of values in another layout (28x28 vs 28x28x1 vs 784) is a reshape;
3. images (``Data.images``) are converted between grey and RGB (luminance / repeated channel) and resized
   bilinearly to the input's height and width; masks are resized by nearest neighbour to the output's;
4. anything else is one error naming the dataset, both shapes and the ``shape=`` fix.
uint8 pixels then map linearly onto ``range=LO:HI`` (0 -> LO, 255 -> HI); ready float arrays are used as they are.
"""

from __future__ import annotations

import numpy as np

from qbench.data.base import IGNORE
from qbench.errors import QbenchError


def _text(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _image_like(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))


def _fit_image(image: np.ndarray, shape: tuple[int, ...], resample) -> np.ndarray:
    from PIL import Image

    height, width = shape[0], shape[1]
    channels = shape[2] if len(shape) == 3 else 0
    img = Image.fromarray(image.squeeze(-1) if image.ndim == 3 and image.shape[2] == 1 else image)
    if channels == 3 and img.mode != "RGB":
        img = img.convert("RGB")
    elif channels in (0, 1) and img.mode not in ("L", "I", "I;16", "F"):
        img = img.convert("L")
    if img.size != (width, height):
        img = img.resize((width, height), resample)
    out = np.asarray(img)
    return out.reshape(shape)


def fit_inputs(x: np.ndarray, shape: tuple[int, ...], *, images: bool, origin: str) -> np.ndarray:
    """Raw samples -> the model's per-sample ``shape`` (values unchanged, except by resizing)."""
    from PIL import Image

    shape = tuple(int(d) for d in shape)
    if x.dtype != object and tuple(x.shape[1:]) == shape:
        return x
    if x.dtype != object and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
        return x.reshape(len(x), *shape)
    sample = x[0] if len(x) else np.zeros(0)
    if images and _image_like(shape) and sample.ndim in (2, 3):
        return np.stack([_fit_image(np.asarray(im), shape, Image.Resampling.BILINEAR) for im in x])
    raise QbenchError(
        f"{origin}: samples of shape {_text(np.shape(sample))} cannot be shaped to the model's input {_text(shape)}",
        "give the model data of its input size, or shape=Nx... if the model's input shape is not what it expects"
        + ("" if images else " (array data is only reshaped, never resized)"),
    )


def scale_pixels(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """uint8 pixels -> float32 in ``value_range`` (exact for 0:1 and 0:255)."""
    lo, hi = (np.float32(v) for v in value_range)
    return x.astype(np.float32) * (hi - lo) / np.float32(255) + lo


def fit_masks(y: np.ndarray, shape: tuple[int, int], origin: str) -> np.ndarray:
    """Label masks -> the model output's height x width, by nearest neighbour (a class id is never blended)."""
    from PIL import Image

    if y.dtype != object and tuple(y.shape[1:3]) == tuple(shape):
        return y
    if y.dtype == object or y.ndim == 3:
        out = []
        for m in y:
            m = np.asarray(m)
            img = Image.fromarray(m.astype(np.uint8) if m.max(initial=0) <= 255 else m.astype(np.int32))
            out.append(np.asarray(img.resize((shape[1], shape[0]), Image.Resampling.NEAREST)))
        return np.stack(out)
    raise QbenchError(f"{origin}: masks of shape {_text(y.shape[1:])} do not fit the model's output {_text(shape)}",
                      "give one single-channel mask per image")


def check_class_ids(y: np.ndarray, num_classes: int, origin: str, names: tuple[str, ...] = (),
                    ignore: int | None = None) -> None:
    """Every label is a class id below ``num_classes`` (or ``ignore``); else one error naming the first offenders."""
    values = np.asarray(y)
    if values.dtype.kind not in "iu":
        raise QbenchError(f"{origin}: labels are {values.dtype}, not integer class ids",
                          "store labels as integers 0..N-1")
    bad = (values < 0) | (values >= num_classes)
    if ignore is not None:
        bad &= values != ignore
    if not bad.any():
        return
    per_sample = bad.reshape(len(values), -1).any(axis=1) if values.ndim > 1 else bad
    where = np.flatnonzero(per_sample)[:3]
    found = sorted({int(v) for v in np.unique(values[bad])})[:8]
    named = ", ".join(names[i] if i < len(names) else f"sample {i}" for i in where)
    allowed = f"0..{num_classes - 1}" + (f" or {ignore} (ignore)" if ignore is not None else "")
    raise QbenchError(
        f"{origin}: label value(s) {found} are not class ids {allowed} (in {named})",
        f"the model scores {num_classes} classes: fix those labels"
        + ("" if ignore is None else f", mark unscored pixels {IGNORE}") + ", or list the classes in classes.txt",
    )

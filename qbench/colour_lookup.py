"""The per-pixel colour-lookup baseline: nearest class-mean colour, one pixel at a time.

A segmentation workload that this classifier solves tests a palette, not a model; the scenes benchmark
checks that the trained model beats it clearly (``benchmarks/test_quality.py``).
"""

from __future__ import annotations

import numpy as np


def fit(images: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Mean RGB of every class, (num_classes, 3) float64; NaN for a class absent from ``labels``."""
    lab = np.asarray(labels).reshape(-1)
    img = np.asarray(images).reshape(-1, 3).astype(np.float64)
    keep = lab < num_classes
    counts = np.bincount(lab[keep], minlength=num_classes).astype(np.float64)
    sums = np.stack([np.bincount(lab[keep], weights=img[keep, c], minlength=num_classes) for c in range(3)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def classify(images: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Label every pixel with the class whose mean colour is nearest (uint8, shape of images[..., 0])."""
    images = np.asarray(images, np.uint8)
    # a table over all 2**24 colours would be big; classify the distinct colours instead
    flat = images.reshape(-1, 3).astype(np.int64)
    key = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    uniq, inverse = np.unique(key, return_inverse=True)
    rgb = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], 1).astype(np.float64)
    m = np.where(np.isnan(means), np.inf, means)
    d = ((rgb[:, None, :] - m[None, :, :]) ** 2).sum(-1)
    return np.argmin(d, axis=1).astype(np.uint8)[inverse].reshape(images.shape[:-1])

"""Quality metrics: classification accuracy and the Cityscapes segmentation metrics (thesis §4.4).

Segmentation follows the Cityscapes benchmark: one confusion matrix accumulated over all pixels of all
frames, pixels labelled 255 (ignore) excluded; IoU_c = TP / (TP + FP + FN). A class that appears neither in
the ground truth nor in the prediction has no IoU (NaN) and is left out of the mean; a class predicted but
absent from the ground truth has IoU 0 and counts.
"""

from __future__ import annotations

import numpy as np

from qbench.data.labels import IGNORE


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"predictions {predicted.shape} and labels {labels.shape} differ in shape")
    return float(np.mean(predicted == labels))


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int, ignore: int = IGNORE) -> np.ndarray:
    """``cm[true, predicted]`` pixel counts over valid pixels (int64)."""
    predicted, labels = np.asarray(predicted).ravel(), np.asarray(labels).ravel()
    if predicted.shape != labels.shape:
        raise ValueError(f"predictions ({predicted.size} px) and labels ({labels.size} px) differ in size")
    valid = labels != ignore
    if np.any(labels[valid] >= num_classes):
        raise ValueError(f"labels outside 0..{num_classes - 1} (and not {ignore})")
    index = labels[valid].astype(np.int64) * num_classes + predicted[valid].astype(np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def pixel_accuracy(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(cm: np.ndarray) -> float:
    iou = iou_per_class(cm)
    return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else float("nan")

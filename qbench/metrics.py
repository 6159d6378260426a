"""Quality metrics: classification accuracy, the Cityscapes segmentation metrics (thesis §4.4), and fidelity to float32.

Segmentation follows the Cityscapes benchmark: one confusion matrix accumulated over all pixels of all
frames, pixels labelled 255 (ignore) excluded; IoU_c = TP / (TP + FP + FN). A class that appears neither in
the ground truth nor in the prediction has no IoU (NaN) and is left out of the mean; a class predicted but
absent from the ground truth has IoU 0 and counts.
"""

from __future__ import annotations

import math

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


# Fidelity: how closely a quantized model's outputs follow the float32 model's on the same inputs.

SNR_CAP_DB = 150.0  # float32 itself resolves ~7 decimal digits (~140 dB): beyond this "identical" is the honest word


def snr_db(reference: np.ndarray, output: np.ndarray) -> float:
    """Signal-to-noise ratio of ``output`` against ``reference`` in dB: 10 log10(sum ref^2 / sum (out - ref)^2),
    capped at SNR_CAP_DB (identical outputs); 0 dB when the reference is all zeros and the output is not."""
    ref, out = np.asarray(reference, np.float64), np.asarray(output, np.float64)
    if not np.all(np.isfinite(out)):  # inf / NaN outputs: no fidelity at all (and JSON has no infinity)
        return -SNR_CAP_DB
    noise = float(np.sum((out - ref) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0.0:
        return SNR_CAP_DB
    if signal == 0.0:
        return 0.0
    return float(np.clip(10.0 * np.log10(signal / noise), -SNR_CAP_DB, SNR_CAP_DB))


def variation_snr_db(reference: np.ndarray, output: np.ndarray) -> float:
    """SNR in dB against how much the reference *varies over the inputs*: 10 log10(mean over elements of the
    reference's variance across samples (first axis) / mean squared error). An output that sits near a constant
    (landmarks in pixels around the image centre, a logit far from zero) is judged by what changes with the input,
    not by its offset; capped like ``snr_db``; -cap when the reference does not vary but the output differs."""
    ref, out = np.asarray(reference, np.float64), np.asarray(output, np.float64)
    if not np.all(np.isfinite(out)):
        return -SNR_CAP_DB
    noise = float(np.mean((out - ref) ** 2))
    signal = float(np.mean(np.var(ref.reshape(len(ref), -1), axis=0))) if len(ref) > 1 else 0.0
    if noise == 0.0:
        return SNR_CAP_DB
    if signal == 0.0:
        return -SNR_CAP_DB
    return float(np.clip(10.0 * np.log10(signal / noise), -SNR_CAP_DB, SNR_CAP_DB))


def relative_spread(reference: np.ndarray) -> float:
    """How much an output varies over the inputs relative to its own size: RMS over elements of the standard
    deviation across samples, over the RMS of the values (0: the same output for every input)."""
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
    size = float(np.sqrt(np.mean(ref**2)))
    return float(np.sqrt(np.mean(np.var(ref, axis=0))) / size) if size > 0 and len(ref) > 1 else 0.0


def binary_iou(reference: np.ndarray, predicted: np.ndarray) -> float:
    """IoU of two boolean masks pooled over all samples and pixels (1.0 when both are empty)."""
    reference, predicted = np.asarray(reference, bool), np.asarray(predicted, bool)
    union = int(np.count_nonzero(reference | predicted))
    return float(np.count_nonzero(reference & predicted) / union) if union else 1.0


def mean_cosine(reference: np.ndarray, output: np.ndarray) -> float:
    """Mean over samples (first axis) of the cosine similarity of their flattened outputs; two zero vectors
    count as identical (1), one zero vector as unrelated (0)."""
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
    out = np.nan_to_num(np.asarray(output, np.float64).reshape(len(output), -1), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    dots = np.sum(ref * out, axis=1)
    both_zero = (np.linalg.norm(ref, axis=1) == 0) & (np.linalg.norm(out, axis=1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1), np.where(both_zero, 1.0, 0.0))
    return float(np.mean(np.clip(cos, -1.0, 1.0)))


FLOAT32_MAX = float(np.finfo(np.float32).max)


def max_abs_error(reference: np.ndarray, output: np.ndarray) -> float:
    """Largest |output - reference|; float32's largest value stands for inf / NaN outputs (JSON has no infinity)."""
    error = np.abs(np.asarray(output, np.float64) - np.asarray(reference, np.float64))
    return float(np.max(np.nan_to_num(error, nan=FLOAT32_MAX, posinf=FLOAT32_MAX), initial=0.0))


def agreement(reference: np.ndarray, predicted: np.ndarray) -> float:
    """Fraction of positions (samples, or pixels) where two argmax predictions agree."""
    reference, predicted = np.asarray(reference), np.asarray(predicted)
    return float(np.mean(reference == predicted)) if reference.size else float("nan")


def mask_iou(reference: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """mIoU of ``predicted`` masks taking the float32 masks as ground truth (no ignore label)."""
    return mean_iou(confusion_matrix(predicted, reference, num_classes, ignore=-1))


def mcnemar_p(lost: int, gained: int) -> float:
    """One-sided exact McNemar test: the probability of losing at least ``lost`` of the ``lost + gained`` samples
    the two models disagree on, were neither better (each disagreement a fair coin). Small p: significantly worse."""
    n = lost + gained
    if n == 0 or lost == 0:
        return 1.0
    k = np.arange(lost, n + 1)
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in k]
    return float(min(1.0, np.exp(np.logaddexp.reduce(log_terms))))

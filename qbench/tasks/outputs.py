"""How the fidelity task judges one output of a model nobody labelled: its kind, its metric, and whether the inputs
exercise it at all.

A single worst-output SNR against the reference's *energy* said nothing true about models nobody here picked: a
hand-presence score of 0.0007-0.087 on photographs without a hand is almost all quantization step (3.9 dB for a
mode that agrees with float32 on every photograph), and a person mask on photographs without a person goes to
-67 dB while its one person photograph keeps an IoU of 0.93. So each output is judged on a scale where a number
means something, by its kind, read from its shape and float32's values:

- ``mask``: a per-pixel map (height and width >= 8, any channels): IoU against float32's mask (probabilities
  thresholded at 0.5 for one channel, argmax for several), pooled over every input's pixels, so photographs with
  near-empty masks weigh as little as they hold;
- ``classes``: a vector of class scores (its name says so, or each sample is a probability distribution): top-1
  agreement with float32;
- ``scores``: a few probabilities (every value in [0, 1], at most ``SCORES_MAX`` per sample): agreement with
  float32's *confident* decisions (p <= 0.4 or >= 0.6; near 0.5 float32 itself is undecided);
- ``regression``: anything else (landmarks, boxes, embeddings, logits): SNR against how much float32's output
  varies over the inputs (``metrics.variation_snr_db``), not against its offset.

An output the inputs do not exercise is said to be so and left out of the verdict rather than failed or passed:
a mask float32 leaves empty (or full) on every input, scores whose confident decisions all go one way, a
regression output whose variation over the inputs is below ``SPREAD_MIN`` of its own size (about two 8-bit steps:
quantization cannot even represent it), and every output of a model whose own presence score denies, on every
input, that anything is there (``gated``). Every kind also reports its variation SNR, cosine and largest error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from qbench import metrics

SCORES_MAX = 4  # probabilities per sample that make a "scores" output (presence, handedness, a flag or two)
SPREAD_MIN = 0.01  # below this relative variation over the inputs a regression output is not exercised
CONFIDENT = (0.4, 0.6)  # float32's probabilities outside this band are decisions
CLASS_SCORE_NAMES = re.compile(r"logit|score|class|prob|softmax", re.IGNORECASE)
KINDS = ("regression", "mask", "classes", "scores")
#: each kind's verdict metric (the value its budget is a floor for, higher is better)
METRIC = {"regression": "snr_db", "mask": "mask_iou", "classes": "top1_agreement", "scores": "decision_agreement"}


def _class_scores(name: str, values: np.ndarray) -> bool:
    """Whether a vector output ranks classes (top-1 agreement means something) rather than regressing values."""
    if CLASS_SCORE_NAMES.search(name):
        return True
    return bool(np.all(values >= 0) and np.allclose(values.sum(axis=-1), 1.0, atol=1e-3))


def kind_of(name: str, reference: np.ndarray) -> str:
    """The kind of an output from its per-sample shape and float32's values over the inputs."""
    shape = reference.shape[1:]
    if len(shape) == 3 and shape[0] >= 8 and shape[1] >= 8:
        return "mask"
    if len(shape) == 1 and shape[0] > 1 and _class_scores(name, reference):
        return "classes"
    if 0 < int(np.prod(shape)) <= SCORES_MAX and np.all((reference >= 0) & (reference <= 1)):
        return "scores"
    return "regression"


@dataclass(frozen=True)
class Judged:
    kind: str
    entry: dict[str, Any]  # what extra_info.fidelity_outputs holds for this output
    exercised: bool
    why: str = ""  # when not exercised: what float32 did on every input


def _masks(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Class masks of a per-pixel map and the number of classes (2 for a thresholded one-channel probability)."""
    if values.shape[-1] == 1:
        return (values[..., 0] >= 0.5).astype(np.int64), 2
    return values.argmax(-1), values.shape[-1]


def judge(name: str, reference: np.ndarray, output: np.ndarray) -> Judged:
    """One output of a mode against float32's on the same inputs."""
    kind = kind_of(name, reference)
    entry: dict[str, Any] = {
        "kind": kind,
        "snr_db": metrics.variation_snr_db(reference, output),
        "energy_snr_db": metrics.snr_db(reference, output),
        "cosine": metrics.mean_cosine(reference, output),
        "max_abs_error": metrics.max_abs_error(reference, output),
        "spread": metrics.relative_spread(reference),
        "range": [float(np.min(reference)), float(np.max(reference))] if reference.size else [0.0, 0.0],
        "size": int(np.prod(reference.shape[1:])),
    }
    exercised, why = True, ""
    if kind == "mask":
        ref_mask, classes = _masks(reference)
        out_mask, _ = _masks(output)
        if classes == 2:
            entry["mask_iou"] = metrics.binary_iou(ref_mask == 1, out_mask == 1)
            share = float(np.mean(ref_mask))
            if share in (0.0, 1.0):
                exercised, why = False, f"float32's mask is {'empty' if share == 0 else 'full'} on every input"
        else:
            entry["mask_iou"] = metrics.mask_iou(ref_mask, out_mask, classes)
            if np.all(ref_mask == ref_mask.flat[0]):
                exercised, why = False, f"float32 assigns class {int(ref_mask.flat[0])} to every pixel of every input"
    elif kind == "classes":
        ref_top, out_top = reference.argmax(-1), output.argmax(-1)
        entry["top1_agreement"] = metrics.agreement(ref_top, out_top)
        if len(np.unique(ref_top)) < 2:
            exercised, why = False, f"float32's top-1 is class {int(ref_top.flat[0])} for every input"
    elif kind == "scores":
        low, high = CONFIDENT
        ref, out = reference.ravel(), output.ravel()
        confident = (ref <= low) | (ref >= high)
        entry["decision_agreement"] = metrics.agreement(ref[confident] >= high, out[confident] >= 0.5) \
            if confident.any() else 1.0
        if not ((ref >= high).any() and (ref <= low).any()):
            side = "no" if (ref < 0.5).all() else ("yes" if (ref >= 0.5).all() else "undecided")
            exercised = False
            why = (f"float32's decision is '{side}' on every input (values {entry['range'][0]:.4g} to "
                   f"{entry['range'][1]:.4g})")
    else:
        if entry["spread"] < SPREAD_MIN:
            exercised, why = False, (f"float32's output varies by {entry['spread']:.2%} of its size over the inputs "
                                     f"(below {SPREAD_MIN:.0%}: about two 8-bit steps)")
    entry["exercised"] = exercised
    if why:
        entry["not_exercised"] = why
    return Judged(kind, entry, exercised, why)


def gated(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A presence output (one probability per sample) that float32 confidently denies on every input says the
    inputs hold nothing the model detects: its other outputs (MediaPipe's hand landmarks, handedness) then describe
    an object that is not there and are not exercised either, whatever their numbers."""
    low = CONFIDENT[0]
    absent = [name for name, e in entries.items() if e["kind"] == "scores" and e.get("size") == 1 and e["range"][1] <= low]
    if not absent:
        return entries
    gate = absent[0]
    why = (f"the model's presence output {gate} is at most {entries[gate]['range'][1]:.3g} on every input (float32 "
           "confidently detects nothing): this output describes an object the inputs do not hold")
    return {name: e if name == gate or not e["exercised"] else {**e, "exercised": False, "not_exercised": why}
            for name, e in entries.items()}

"""The task registry's quality rules and fidelity metrics on hand-made predictions (no models, no runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from qbench import metrics, tasks
from qbench.data.base import EvalSet
from qbench.tasks.base import OutputInfo

CLS, SEG, FID = (tasks.get(t) for t in ("classification", "segmentation", "fidelity"))


def _classes(labels, wrong_at, n_classes=10):
    """Top-1 predictions equal to ``labels`` except at ``wrong_at``; scores peaked at the prediction."""
    predicted = np.array(labels, np.uint8)
    predicted[list(wrong_at)] = (predicted[list(wrong_at)] + 1) % n_classes
    scores = np.eye(n_classes, dtype=np.float32)[predicted] * 5
    return predicted, scores


@pytest.fixture
def digits():
    y = np.random.default_rng(0).integers(0, 10, 300).astype(np.uint8)
    return EvalSet(np.zeros((300, 1), np.float32), y, 10)


def _judge(task, data, reference_wrong, mode_wrong, family="8bit"):
    ref = _classes(data.y, reference_wrong)
    reference = task.score(ref, data)
    result = task.score(_classes(data.y, mode_wrong), data, ref)
    return result, task.judge(result, reference, family, {}, is_reference=False)


def test_a_small_insignificant_drop_is_a_budget_miss_not_a_failure(digits):
    result, verdict = _judge(CLS, digits, reference_wrong=range(9), mode_wrong=range(13))  # 4 of 300 more
    assert result["samples_lost"] == 4 and result["samples_gained"] == 0 and result["mcnemar_p"] == 1 / 16
    assert verdict.within_budget is False and verdict.failures == []


def test_a_significant_drop_beyond_the_floor_fails_with_the_numbers(digits):
    result, verdict = _judge(CLS, digits, reference_wrong=range(9), mode_wrong=range(30))
    assert verdict.within_budget is False and len(verdict.failures) == 1
    assert "drop 0.0700 > 0.005" in verdict.failures[0] and "lost 21, gained 0" in verdict.failures[0]
    _, four_bit = _judge(CLS, digits, reference_wrong=range(9), mode_wrong=range(15), family="4bit")
    assert four_bit.failures == [] and four_bit.within_budget is False  # 0.02 < the 4-bit floor of 0.03


def test_float32_must_beat_chance_or_its_own_floor(digits):
    garbage = CLS.score((np.zeros(300, np.uint8), np.zeros((300, 10), np.float32)), digits)
    majority = np.bincount(digits.y).max() / 300
    assert garbage["chance_floor"] == pytest.approx(majority + 0.1 * (1 - majority))
    assert garbage["accuracy"] < garbage["chance_floor"]
    verdict = CLS.judge(garbage, garbage, "float", {}, is_reference=True)
    assert verdict.failures and "below chance" in verdict.failures[0]
    good = CLS.score(_classes(digits.y, range(5)), digits)
    assert CLS.judge(good, good, "float", {}, is_reference=True).failures == []
    assert CLS.judge(good, good, "float", {"accuracy": 0.99}, is_reference=True).failures  # the model's own floor


def test_segmentation_miou_ratio_floor_and_budget():
    y = np.zeros((2, 8, 8), np.uint8)
    y[:, :4] = 1
    data = EvalSet(np.zeros((2, 1), np.float32), y, 2, ("a", "b"))
    reference = SEG.score(y.copy(), data)
    worse = y.copy()
    worse[:, 3] = 0  # one row of class 1 lost per frame: mIoU falls to ~0.86
    result = SEG.score(worse, data, y)
    assert result["mask_agreement"] == pytest.approx(56 / 64)
    eight = SEG.judge(result, reference, "8bit", {}, is_reference=False)
    four = SEG.judge(result, reference, "4bit", {}, is_reference=False)
    assert any("below the 0.96 floor" in f for f in eight.failures)
    assert four.within_budget is False and any("pixel accuracy dropped" in f for f in four.failures)


def test_fidelity_scores_each_output_and_gates_the_worst():
    rng = np.random.default_rng(0)
    boxes, scores = rng.normal(size=(20, 16)), rng.normal(size=(20, 8, 8, 3))
    reference = (boxes, scores)
    outputs = [OutputInfo("boxes", (16,), None), OutputInfo("class_scores", (8, 8, 3), None)]
    close = (boxes + 1e-3 * rng.normal(size=boxes.shape), scores)
    result = FID.score(close, None, reference, outputs)
    assert set(result["fidelity_outputs"]) == {"boxes", "class_scores"}
    assert result["fidelity_outputs"]["class_scores"]["snr_db"] == metrics.SNR_CAP_DB
    assert result["fidelity_outputs"]["class_scores"]["mask_iou"] == 1.0
    assert "top1_agreement" not in result["fidelity_outputs"]["boxes"]  # regression values, not class scores
    assert result["snr_db"] == result["fidelity_outputs"]["boxes"]["snr_db"] > 55
    assert FID.judge(result, {}, "8bit", {}, is_reference=False).failures == []
    broken = FID.score((rng.normal(size=boxes.shape), scores), None, reference, outputs)
    assert FID.judge(broken, {}, "8bit", {}, is_reference=False).failures


def test_fidelity_of_non_finite_outputs_is_the_floor_not_a_crash():
    ref = np.ones((2, 4))
    out = np.array([[1, np.inf, 1, 1], [np.nan, 1, 1, 1]])
    assert metrics.snr_db(ref, out) == -metrics.SNR_CAP_DB
    assert metrics.max_abs_error(ref, out) == metrics.FLOAT32_MAX
    assert 0 <= metrics.mean_cosine(ref, out) < 1


def test_float32_outputs_that_ignore_the_input_fail_fidelity():
    constant = (np.ones((5, 3)),)
    data = EvalSet(np.zeros((5, 1), np.float32), None, 0)
    result = FID.score(constant, data)
    assert result == {"outputs_vary": False}
    assert "same outputs for every input" in FID.judge(result, result, "float", {}, is_reference=True).failures[0]


def test_mcnemar_matches_the_binomial_tail():
    assert metrics.mcnemar_p(4, 0) == 1 / 16 and metrics.mcnemar_p(0, 4) == 1.0 and metrics.mcnemar_p(0, 0) == 1.0
    assert metrics.mcnemar_p(5, 1) == pytest.approx(7 / 64)
    assert metrics.mcnemar_p(50, 5) < 1e-9

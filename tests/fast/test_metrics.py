"""Quality metrics against hand-computed cases, plus invariants that must hold for any input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qbench import metrics


def test_hand_computed_confusion_and_iou():
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    pred = np.array([[0, 1, 1], [1, 1, 0]])
    cm = metrics.confusion_matrix(pred, gt, num_classes=4)
    assert cm[:3, :3].tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]  # the 255 pixel is ignored
    assert metrics.pixel_accuracy(cm) == pytest.approx(3 / 5)
    iou = metrics.iou_per_class(cm)
    assert iou[0] == pytest.approx(1 / 2)  # TP 1, FN 1, FP 0
    assert iou[1] == pytest.approx(2 / 4)  # TP 2, FP 2
    assert iou[2] == 0.0  # in the ground truth, never predicted
    assert np.isnan(iou[3])  # absent from both: excluded from the mean
    assert metrics.mean_iou(cm) == pytest.approx((0.5 + 0.5 + 0.0) / 3)


def test_class_predicted_but_absent_from_ground_truth_counts_as_zero():
    cm = metrics.confusion_matrix(np.array([0, 1]), np.array([0, 0]), num_classes=2)
    assert metrics.iou_per_class(cm).tolist() == [0.5, 0.0]
    assert metrics.mean_iou(cm) == pytest.approx(0.25)


def test_accuracy():
    assert metrics.accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.accuracy(np.zeros(3), np.zeros(4))


def test_labels_outside_the_classes_are_rejected():
    with pytest.raises(ValueError, match="labels outside"):
        metrics.confusion_matrix(np.zeros(2, int), np.array([0, 19]), num_classes=19)


labels = hnp.arrays(np.uint8, st.integers(1, 400), elements=st.sampled_from([*range(5), 255]))


@given(labels)
def test_perfect_prediction_scores_one(gt):
    pred = np.where(gt == 255, 0, gt)
    cm = metrics.confusion_matrix(pred, gt, 5)
    if cm.sum():
        assert metrics.pixel_accuracy(cm) == 1.0 and metrics.mean_iou(cm) == 1.0


@given(labels, st.data())
def test_metrics_ignore_pixel_order(gt, data):
    pred = data.draw(hnp.arrays(np.uint8, gt.shape, elements=st.integers(0, 4)))
    perm = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation(gt.size)
    a = metrics.confusion_matrix(pred, gt, 5)
    b = metrics.confusion_matrix(pred[perm], gt[perm], 5)
    assert np.array_equal(a, b)
    assert a.sum() == np.count_nonzero(gt != 255)


@given(labels, st.data())
def test_scores_are_bounded(gt, data):
    pred = data.draw(hnp.arrays(np.uint8, gt.shape, elements=st.integers(0, 4)))
    cm = metrics.confusion_matrix(pred, gt, 5)
    iou = metrics.iou_per_class(cm)
    assert np.all((iou[~np.isnan(iou)] >= 0) & (iou[~np.isnan(iou)] <= 1))
    if cm.sum():
        assert 0 <= metrics.mean_iou(cm) <= 1 and 0 <= metrics.pixel_accuracy(cm) <= 1

"""The fidelity task's judgement per output kind, on synthetic outputs shaped like MediaPipe's models' (the hand
landmarker: 63 landmarks, a hand-presence score and handedness; the selfie segmenter: a 1-channel mask)."""

from __future__ import annotations

import numpy as np

from qbench.tasks import get
from qbench.tasks.base import OutputInfo
from qbench.tasks.outputs import SPREAD_MIN, kind_of

FID = get("fidelity")
rng = np.random.default_rng(0)


def hand(n: int = 22, presence=(0.0007, 0.087)):
    landmarks = 112 + 40 * rng.normal(size=(n, 63))
    score = rng.uniform(*presence, size=(n, 1))
    handedness = rng.uniform(0, 1, size=(n, 1))
    outputs = [OutputInfo("Identity", (63,), None), OutputInfo("Identity_1", (1,), None),
               OutputInfo("Identity_2", (1,), None)]
    return (landmarks, score, handedness), outputs


def test_kinds_come_from_shapes_and_values():
    (landmarks, score, handedness), _ = hand()
    assert kind_of("Identity", landmarks) == "regression"
    assert kind_of("Identity_1", score) == kind_of("Identity_2", handedness) == "scores"
    assert kind_of("activation_10", rng.uniform(0, 1, (4, 16, 16, 1))) == "mask"
    assert kind_of("logits", rng.normal(size=(4, 10))) == "classes"


def test_a_near_constant_presence_score_is_not_exercised_and_gates_the_other_outputs():
    """Photographs without a hand: float32's presence score stays in 0.0007-0.087. One quantization step there is
    3.9 dB of energy SNR; the verdict instead says that the inputs do not exercise the model, and fails nothing,
    however far its landmarks (which describe no hand) move."""
    reference, outputs = hand()
    quantized = (reference[0] + 30 * rng.normal(size=reference[0].shape), np.round(reference[1] * 256) / 256,
                 reference[2])
    result = FID.score(quantized, None, reference, outputs)
    per = result["fidelity_outputs"]
    assert not per["Identity_1"]["exercised"] and "'no' on every input" in per["Identity_1"]["not_exercised"]
    assert not per["Identity"]["exercised"] and "presence output Identity_1" in per["Identity"]["not_exercised"]
    verdict = FID.judge(result, {}, "8bit", {}, is_reference=False)
    assert verdict.failures == [] and verdict.within_budget is None
    assert any("none of the model's outputs is exercised" in note for note in verdict.notes)


def test_with_a_hand_present_the_landmarks_are_judged_against_their_variation():
    reference, outputs = hand(presence=(0.0, 1.0))
    reference[1][:11], reference[1][11:] = 0.05, 0.95  # float32 finds a hand in half the photographs
    close = (reference[0] + 0.4 * rng.normal(size=reference[0].shape), reference[1], reference[2])
    far = (reference[0] + 60 * rng.normal(size=reference[0].shape), reference[1], reference[2])
    good, bad = (FID.score(q, None, reference, outputs) for q in (close, far))
    assert good["fidelity_outputs"]["Identity"]["exercised"] and good["fidelity_outputs"]["Identity"]["snr_db"] > 30
    assert FID.judge(good, {}, "8bit", {}, is_reference=False).within_budget is True
    failed = FID.judge(bad, {}, "8bit", {}, is_reference=False)
    assert failed.within_budget is False and any("Identity (regression)" in f for f in failed.failures)


def test_flipped_confident_decisions_fail_a_scores_output():
    reference, outputs = hand(presence=(0.0, 1.0))
    reference[1][:11], reference[1][11:] = 0.05, 0.95
    flipped = reference[1].copy()
    flipped[:8] = 0.9  # 8 of 22 confident "no" become "yes"
    result = FID.score((reference[0], flipped, reference[2]), None, reference, outputs)
    assert result["fidelity_outputs"]["Identity_1"]["decision_agreement"] == (22 - 8) / 22
    assert any("Identity_1 (scores)" in f for f in FID.judge(result, {}, "8bit", {}, is_reference=False).failures)


def test_an_output_that_barely_varies_over_the_inputs_is_not_exercised():
    flat = 8.1 + 1e-4 * rng.normal(size=(22, 1404))  # a far-from-zero output the inputs do not move
    outputs = [OutputInfo("conv2d_21", (1404,), None)]
    result = FID.score((flat + 0.05,), None, (flat,), outputs)
    entry = result["fidelity_outputs"]["conv2d_21"]
    assert entry["spread"] < SPREAD_MIN and not entry["exercised"]
    assert FID.judge(result, {}, "8bit", {}, is_reference=False).failures == []


def test_a_mask_is_judged_by_iou_pooled_over_every_inputs_pixels():
    reference = np.zeros((3, 16, 16, 1))
    reference[0, 4:12, 4:12] = 0.9  # a person in one photograph, nothing in the other two
    shifted = np.roll(reference, 1, axis=2)
    outputs = [OutputInfo("activation_10", (16, 16, 1), None)]
    result = FID.score((shifted,), None, (reference,), outputs)
    assert result["fidelity_outputs"]["activation_10"]["mask_iou"] == 56 / 72  # 7 x 8 shared of 9 x 8 pixels
    empty = FID.score((shifted,), None, (np.zeros_like(reference),), outputs)
    assert not empty["fidelity_outputs"]["activation_10"]["exercised"]

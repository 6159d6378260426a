"""Quality per model x mode x device, on the full evaluation set, judged by the model's task.

Each task (``qbench.tasks``) owns its rules, following MLPerf's practice: a quantized model is judged *relative to
the float32 model on the same device in the same run*, per mode family (8-bit modes must keep what the thesis's
question asks; 4-bit modes have a lower floor and record whether they met the 8-bit budget), plus an absolute
floor on float32 where the dataset makes one meaningful, or chance otherwise (a model that scores like always
predicting the most frequent class is garbage whatever each mode does). Unlabelled models are scored by fidelity
to float32's outputs (SNR floors per family). The failures name the rule and the numbers.
"""

import pytest


def test_quality(qbench, qbench_model, qbench_mode, qbench_device):
    verdict = qbench.evaluator.verdict(qbench_model, qbench_mode, qbench_device)
    assert not verdict.failures, "; ".join(verdict.failures)


@pytest.mark.qbench_models("deeplab_scenes")
def test_scenes_need_a_model(qbench, qbench_model):
    """A per-pixel colour lookup (nearest class-mean colour, fitted on the calibration frames) must score
    clearly below the trained float32 model: the scenes test shape and context, not a palette."""
    if not qbench.builds:
        pytest.skip("a bundle carries no scene generator: the lookup baseline runs on the build machine")
    from qbench import colour_lookup, metrics
    from qbench.data import scene_frames

    data = qbench.evaluator.scored_set(qbench_model)
    size = qbench.artifacts.io(qbench_model).input_shape[:2]
    frames, labels = scene_frames.split(qbench.cache, "calibration", scene_frames.CALIBRATION_FRAMES, size)
    means = colour_lookup.fit(frames, labels, data.num_classes)
    lookup = colour_lookup.classify(data.x.astype("uint8"), means)
    colour_miou = metrics.mean_iou(metrics.confusion_matrix(lookup, data.y, data.num_classes))
    model_miou = qbench.evaluator.result(qbench_model, "float32", "xnnpack")["miou"]
    assert colour_miou < 0.7 * model_miou, f"colour lookup mIoU {colour_miou:.3f} vs model {model_miou:.3f}"

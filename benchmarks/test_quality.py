"""Accuracy / segmentation quality per model x mode x device, on the full evaluation set.

Gates follow MLPerf's practice: a quantized model is judged *relative to the float32 model on the same
device in the same run* (MLPerf Mobile: int8 classification within 1-2 % of fp32, segmentation mIoU
>= 96 % of fp32), plus an absolute floor on float32 where the dataset makes one meaningful. For MNIST we
allow 0.005 (50 of 10,000 images): the thesis saw all PTQ modes within 0.2 % of float32, so a drop of half
a point means the conversion broke, not that quantization cost a little.
"""

import pytest

CLASSIFICATION_MAX_DROP = 0.005
SEGMENTATION_MIOU_RATIO = 0.96
SEGMENTATION_PIXEL_ACC_MAX_DROP = 0.01


def test_quality(qbench, qbench_model, qbench_mode, qbench_device):
    spec = qbench.model(qbench_model)
    result = qbench.evaluate(qbench_model, qbench_mode, qbench_device)
    reference = qbench.evaluate(qbench_model, "float32", qbench_device)
    for metric, floor in spec.floors_for(qbench).items():
        assert reference[metric] >= floor, f"float32 {metric} {reference[metric]:.4f} is below the floor {floor}"
    if spec.task == "classification":
        assert result["accuracy"] >= reference["accuracy"] - CLASSIFICATION_MAX_DROP, (
            f"{qbench_mode} accuracy {result['accuracy']:.4f} vs float32 {reference['accuracy']:.4f}"
        )
    elif spec.task == "segmentation":
        assert result["miou"] >= SEGMENTATION_MIOU_RATIO * reference["miou"], (
            f"{qbench_mode} mIoU {result['miou']:.4f} < {SEGMENTATION_MIOU_RATIO} x float32 {reference['miou']:.4f}"
        )
        assert result["pixel_accuracy"] >= reference["pixel_accuracy"] - SEGMENTATION_PIXEL_ACC_MAX_DROP
    else:
        pytest.fail(f"no quality rule for task {spec.task!r}")


def test_scenes_need_a_model(qbench, qbench_model):
    """A per-pixel colour lookup (nearest class-mean colour, fitted on the calibration frames) must score
    clearly below the trained float32 model: the scenes test shape and context, not a palette."""
    if qbench_model != "deeplab_scenes":
        pytest.skip(f"{qbench_model} is not trained on the procedural scenes")
    spec, data = qbench.model(qbench_model), qbench.evaluation_set(qbench_model)
    if not hasattr(spec, "split"):
        pytest.skip("a bundle carries no scene generator: the lookup baseline runs on the build machine")
    from qbench import colour_lookup, metrics

    calibration = spec.calibration(qbench)
    fit_labels = spec.split(qbench, "calibration", len(calibration))[1]
    means = colour_lookup.fit(calibration.astype("uint8"), fit_labels, data.num_classes)
    lookup = colour_lookup.classify(data.x.astype("uint8"), means)
    colour_miou = metrics.mean_iou(metrics.confusion_matrix(lookup, data.y, data.num_classes))
    model_miou = qbench.evaluate(qbench_model, "float32", "xnnpack")["miou"]
    assert colour_miou < 0.7 * model_miou, f"colour lookup mIoU {colour_miou:.3f} vs model {model_miou:.3f}"

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
    for metric, floor in spec.floors.items():
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

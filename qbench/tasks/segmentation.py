"""Semantic segmentation: pixel accuracy, mIoU and per-class IoU (thesis §4.4, Cityscapes' definitions).

Budget: a mode's mIoU must reach 96 % of float32's on the same device (MLPerf Mobile's rule for segmentation) and
its pixel accuracy may drop at most 0.01. 4-bit weights must keep 90 % (their floor); the report shows whether they
reached 96 %. A float32 model without its own floor must beat chance: predicting the most frequent class
everywhere, plus 10 % of the gap to perfect pixel accuracy. Each mode also records the fraction of pixels where
its mask agrees with float32's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qbench import metrics
from qbench.data.labels import IGNORE
from qbench.errors import QbenchError
from qbench.tasks.base import TASKS, Budget, FigureSpec, Metric, OutputInfo, Task, Verdict, chance_floor

PIXEL_ACCURACY_DROP = {"4bit": 0.03}  # else 0.01
SAMPLE_FRAMES = 4  # frames predicted per mode for the sample pictures (the metrics come from the full evaluation)


@TASKS.register
class Segmentation(Task):
    id = "segmentation"
    description = "pixel accuracy and mIoU on labelled masks (255 = not scored)"
    primary = "miou"
    eval_batch = 4
    metrics = (
        Metric("pixel_accuracy", "Pixel acc. (%)", "Pixel accuracy (%)", gate_tol="pixel_accuracy_tol"),
        Metric("miou", "mIoU (%)", "mIoU (%)", gate_tol="miou_tol"),
        Metric("mask_agreement", "Pixels = float32 (%)", "Pixel agreement with float32 (%)"),
    )
    figures = (
        FigureSpec("miou", "mIoU per mode, per machine and device", "bars", "miou"),
        FigureSpec("pixel-accuracy", "Pixel accuracy per mode, per machine and device", "bars", "pixel_accuracy"),
        FigureSpec("per-class-iou", "IoU per class and mode", "per_class_iou"),
        FigureSpec("tradeoff-size-miou", "Trade-off: model size vs mIoU", "size_tradeoff", "miou"),
        FigureSpec("tradeoff-latency-miou", "Trade-off: latency vs mIoU, per machine", "latency_tradeoff", "miou"),
    )
    sample_packages = ("cityscapesscripts",)  # the Cityscapes palette
    target_range = (0.0, 1.0)
    target_unit = "a fraction of float32's mIoU, e.g. 0.99"
    budgets = {  # mIoU as a fraction of float32's: (budget, floor)
        "float": Budget(0.96, 0.96),
        "8bit": Budget(0.96, 0.96),
        "16bit": Budget(0.96, 0.96),
        "4bit": Budget(0.96, 0.90),
    }

    def reduce(self, outputs: Sequence[np.ndarray], info: Sequence[OutputInfo]) -> np.ndarray:
        raw = outputs[0]
        dtype = np.uint8 if raw.shape[-1] <= 255 else np.uint16
        return np.argmax(raw, axis=-1).astype(dtype)  # raw integers: argmax is the same as dequantized

    def score(self, predictions, data, reference=None, outputs=()) -> dict:
        cm = metrics.confusion_matrix(predictions, data.y, data.num_classes)
        iou = metrics.iou_per_class(cm)
        names = data.class_names or tuple(str(i) for i in range(data.num_classes))
        result = {
            "pixel_accuracy": metrics.pixel_accuracy(cm),
            "miou": metrics.mean_iou(cm),
            "per_class_iou": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, iou)},
            "chance_floor": chance_floor(data.y, IGNORE),
        }
        if reference is not None:
            result["mask_agreement"] = metrics.agreement(reference, predictions)
        return result

    def fit_labels(self, y, outputs, origin):
        from qbench.data.preprocess import fit_masks

        if y is None or not outputs or len(outputs[0].shape) != 3:
            return y  # check_fit names the problem
        return fit_masks(y, outputs[0].shape[:2], origin)

    def check_fit(self, outputs: Sequence[OutputInfo], data, origin: str) -> None:
        shape = tuple(outputs[0].shape) if outputs else ()
        if len(shape) != 3 or shape[2] < 2:
            raise QbenchError(f"{origin}: segmentation needs an output of height x width x classes per sample, "
                              f"the model's is {list(shape)}", "use task=fidelity for other outputs")
        if data.y is None or np.asarray(data.y).ndim != 3 or tuple(np.shape(data.y)[1:]) != shape[:2]:
            raise QbenchError(f"{origin}: masks of shape {list(np.shape(data.y)[1:]) if data.y is not None else []} "
                              f"do not match the model's output {list(shape[:2])}", "give one mask per image")
        from qbench.data.preprocess import check_class_ids

        check_class_ids(data.y, shape[2], origin, (), ignore=IGNORE)

    def judge(self, result, reference, family, floors, is_reference) -> Verdict:
        rule = self.budget_for(family)
        verdict = Verdict(budget=f"mIoU >= {rule.budget:g} x float32")
        if is_reference:
            for metric, floor in floors.items():
                if result[metric] < floor:
                    verdict.failures.append(f"float32 {metric} {result[metric]:.4f} is below the floor {floor}")
            if not floors and result["pixel_accuracy"] < result["chance_floor"]:
                verdict.failures.append(f"float32 pixel accuracy {result['pixel_accuracy']:.4f} is below chance "
                                        f"(majority class + 10 % of the gap) {result['chance_floor']:.4f}")
            return verdict
        ratio = result["miou"] / reference["miou"] if reference["miou"] else 0.0
        verdict.within_budget = ratio >= rule.budget - 1e-12
        if ratio < rule.floor - 1e-12:
            verdict.failures.append(f"mIoU {result['miou']:.4f} is {ratio:.3f} x float32 {reference['miou']:.4f}, "
                                    f"below the {rule.floor:g} floor for {family} modes")
        drop, allowed = reference["pixel_accuracy"] - result["pixel_accuracy"], PIXEL_ACCURACY_DROP.get(family, 0.01)
        if drop > allowed + 1e-12:
            verdict.failures.append(f"pixel accuracy dropped {drop:.4f} from float32 (> {allowed:g})")
        return verdict

    sample_count = SAMPLE_FRAMES

    def write_samples(self, data, predictions, quality, folder):
        from qbench.samples import to_display, write_segmentation_samples

        return write_segmentation_samples(to_display(data.x), data.y, predictions, quality, folder, data.class_names)


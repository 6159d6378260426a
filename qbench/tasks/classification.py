"""Classification: top-1 accuracy on labelled samples (thesis §4.4, MNIST), plus agreement with float32.

The budget follows MLPerf's practice: a mode is judged *relative to float32 on the same device in the same run*.
For MNIST we allow 0.005 (50 of 10,000 images): the thesis saw all PTQ modes within 0.2 % of float32, so a drop of
half a point means the conversion broke, not that quantization cost a little. 4-bit weights cost more; they must
stay within 0.03 (their floor) and the report shows whether they also met the 0.005 budget. On a small evaluation
set a drop of a few samples says little (0.005 of 300 images is 1.5 images), so the floor fails a mode only when its
drop is also significant: an exact one-sided McNemar test on the samples the two models disagree on, p < 0.01.
Beside accuracy each mode records how often its top-1 class agrees with float32's and the SNR of its scores
against float32's: a mode can keep accuracy while changing many individual answers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qbench import metrics
from qbench.errors import QbenchError
from qbench.tasks.base import TASKS, Budget, FigureSpec, Metric, OutputInfo, Task, Verdict, chance_floor, dequantized

SIGNIFICANCE = 0.01  # a drop beyond the floor fails only if the mode is significantly worse (exact McNemar test)


@TASKS.register
class Classification(Task):
    id = "classification"
    description = "top-1 accuracy on labelled samples"
    primary = "accuracy"
    eval_batch = 250
    metrics = (
        Metric("accuracy", "Accuracy (%)", "Top-1 accuracy (%)", gate_tol="accuracy_tol"),
        Metric("top1_agreement", "Top-1 = float32 (%)", "Top-1 agreement with float32 (%)"),
        Metric("output_snr_db", "Score SNR (dB)", "Output SNR vs float32 (dB)", percent=False),
    )
    figures = (
        FigureSpec("accuracy", "Top-1 accuracy per mode, per machine and device", "bars", "accuracy"),
        FigureSpec("tradeoff-size-accuracy", "Trade-off: model size vs accuracy", "size_tradeoff", "accuracy"),
        FigureSpec("tradeoff-latency-accuracy", "Trade-off: latency vs accuracy, per machine", "latency_tradeoff",
                   "accuracy"),
    )
    target_range = (-1.0, 1.0)  # a negative drop asks for a gain over float32
    target_unit = "the largest accuracy drop from float32 allowed, e.g. 0.002"
    budgets = {  # largest accuracy drop from float32: (budget, floor)
        "float": Budget(0.005, 0.005),
        "8bit": Budget(0.005, 0.005),
        "16bit": Budget(0.005, 0.005),
        "4bit": Budget(0.005, 0.03),
    }

    def reduce(self, outputs: Sequence[np.ndarray], info: Sequence[OutputInfo]) -> tuple[np.ndarray, np.ndarray]:
        raw = outputs[0].reshape(len(outputs[0]), -1)
        # argmax over raw integers equals argmax over dequantized values (positive scale): no float copy needed
        top1 = np.argmax(raw, axis=-1).astype(np.uint8 if raw.shape[-1] <= 256 else np.int32)
        return top1, dequantized(raw, info[0].quant)

    def score(self, predictions, data, reference=None, outputs=()) -> dict:
        labels, scores = predictions
        result = {"accuracy": metrics.accuracy(labels, data.y), "chance_floor": chance_floor(data.y)}
        if reference is not None:
            result["top1_agreement"] = metrics.agreement(reference[0], labels)
            result["output_snr_db"] = metrics.snr_db(reference[1], scores)
            ref_right, right = reference[0] == data.y, labels == data.y
            lost, gained = int(np.sum(ref_right & ~right)), int(np.sum(~ref_right & right))
            result.update(samples_lost=lost, samples_gained=gained, mcnemar_p=metrics.mcnemar_p(lost, gained))
        return result

    def check_fit(self, outputs: Sequence[OutputInfo], data, origin: str) -> None:
        classes = int(np.prod(outputs[0].shape)) if outputs else 0
        if classes < 2:
            raise QbenchError(
                f"{origin}: the model's output {outputs[0].name if outputs else '?'} has shape "
                f"{list(outputs[0].shape) if outputs else []} per sample, not one score per class",
                "classification needs a score vector (softmax or logits); for other outputs use task=fidelity",
            )
        if data.y is None or np.asarray(data.y).ndim != 1:
            shape = "none" if data.y is None else list(np.shape(data.y))
            raise QbenchError(f"{origin}: classification needs one class id per sample, the labels have shape {shape}",
                              "give integer class ids (N,), or use task=segmentation for masks")
        from qbench.data.preprocess import check_class_ids

        check_class_ids(data.y, classes, origin, tuple(data.class_names))
        if data.class_names and len(data.class_names) != classes:
            raise QbenchError(f"{origin} names {len(data.class_names)} classes but the model scores {classes}",
                              "evaluate the model on data with its own classes (label i must mean the model's class i)")

    def judge(self, result, reference, family, floors, is_reference) -> Verdict:
        rule = self.budget_for(family)
        verdict = Verdict(budget=f"accuracy >= float32 - {rule.budget:g}")
        if is_reference:
            floor = floors.get("accuracy", result.get("chance_floor", 0.0))
            what = "the model's floor" if "accuracy" in floors else "chance (majority class + 10 % of the gap)"
            if result["accuracy"] < floor:
                verdict.failures.append(f"float32 accuracy {result['accuracy']:.4f} is below {what} {floor:.4f}")
            return verdict
        drop = reference["accuracy"] - result["accuracy"]
        verdict.within_budget = drop <= rule.budget + 1e-12
        p = result.get("mcnemar_p", 0.0)
        if drop > rule.floor + 1e-12 and p < SIGNIFICANCE:
            verdict.failures.append(
                f"accuracy {result['accuracy']:.4f} vs float32 {reference['accuracy']:.4f}: drop {drop:.4f} > "
                f"{rule.floor:g} allowed for {family} modes, and significant (lost {result.get('samples_lost')}, "
                f"gained {result.get('samples_gained')} of the samples they disagree on; McNemar p = {p:.2g})")
        return verdict

    def write_samples(self, data, predictions, quality, folder):
        from qbench.samples import to_display, write_classification_samples

        labels = {m: p[0] for m, p in predictions.items()}  # top-1 classes (the scores come second)
        return write_classification_samples(to_display(data.x), data.y, labels, folder,
                                            class_names=data.class_names or None)


"""Fidelity: no labels; each mode is scored against the float32 model's outputs on the same inputs and device.

For every output: SNR in dB (10 log10 of signal over error energy), mean per-sample cosine similarity and the
largest absolute error; where an output is a class-score vector also top-1 agreement with float32, where it is a
height x width x classes map also the IoU of its argmax mask against float32's. A detector's boxes and scores are
scored output by output. The gate is on the worst output's SNR, per mode family (``budgets``): a budget that a
healthy conversion of its family reaches with room to spare, and a floor far below it that only a broken one
misses (a damaged weight tensor, activations clipped to the wrong range, a mode that quantized nothing is caught by
the mode contracts instead). float32 itself must produce outputs that depend on the input.

Why these numbers: uniform b-bit quantization of a full-scale signal has an SNR of about 6.02 b + 1.76 dB
(50 dB at 8 bits); through a network of a few dozen layers the errors add up, and measured 8-bit models score
25-45 dB (qbench's own MNIST and DeepLab; Google's AI Edge Quantizer documents int8 SNRs in that range).
The floors sit ~10 dB under the lowest healthy figure we measured per family.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qbench import metrics
from qbench.tasks.base import Budget, FigureSpec, Metric, OutputInfo, Task, Verdict, dequantized

SAMPLE_VALUES = 4000  # points per output in the sample picture


class Fidelity(Task):
    id = "fidelity"
    description = "agreement with float32's outputs on unlabelled inputs (SNR, cosine, max error)"
    labelled = False
    primary = "snr_db"
    metrics = (
        Metric("snr_db", "SNR (dB)", "Output SNR vs float32 (dB, worst output)", percent=False, gate_tol="snr_db_tol"),
        Metric("cosine", "Cosine", "Cosine similarity with float32 (worst output)", percent=False),
        Metric("top1_agreement", "Top-1 = float32 (%)", "Top-1 agreement with float32 (%)"),
        Metric("mask_iou", "Mask IoU vs float32 (%)", "Mask IoU vs float32 (%)"),
    )
    figures = (
        FigureSpec("snr", "Output SNR against float32 per mode, per machine and device", "bars", "snr_db"),
        FigureSpec("tradeoff-size-snr", "Trade-off: model size vs SNR", "size_tradeoff", "snr_db"),
        FigureSpec("tradeoff-latency-snr", "Trade-off: latency vs SNR, per machine", "latency_tradeoff", "snr_db"),
    )
    budgets = {  # worst output's SNR in dB: (budget, floor); see the module docstring
        "float": Budget(40.0, 30.0),
        "8bit": Budget(20.0, 10.0),
        "16bit": Budget(30.0, 20.0),
        "4bit": Budget(20.0, 5.0),
    }

    def reduce(self, outputs: Sequence[np.ndarray], info: Sequence[OutputInfo]) -> tuple[np.ndarray, ...]:
        return tuple(dequantized(raw, i.quant) for raw, i in zip(outputs, info))

    def score(self, predictions, data, reference=None) -> dict:
        if reference is None:  # float32 itself: does it depend on its input at all?
            varies = any(len(out) > 1 and not np.all(out == out[:1]) for out in predictions)
            return {"outputs_vary": bool(varies) if len(data.x) > 1 else None}
        per_output = {}
        for i, (ref, out) in enumerate(zip(reference, predictions)):
            entry = {"snr_db": metrics.snr_db(ref, out), "cosine": metrics.mean_cosine(ref, out),
                     "max_abs_error": metrics.max_abs_error(ref, out)}
            shape = ref.shape[1:]
            if len(shape) == 1 and shape[0] > 1:  # a class-score vector
                entry["top1_agreement"] = metrics.agreement(ref.argmax(-1), out.argmax(-1))
            elif len(shape) == 3 and shape[2] > 1:  # a per-pixel class map
                entry["mask_iou"] = metrics.mask_iou(ref.argmax(-1), out.argmax(-1), shape[2])
            per_output[str(i)] = entry
        worst = {"snr_db": min(e["snr_db"] for e in per_output.values()),
                 "cosine": min(e["cosine"] for e in per_output.values()),
                 "max_abs_error": max(e["max_abs_error"] for e in per_output.values())}
        for key in ("top1_agreement", "mask_iou"):
            if values := [e[key] for e in per_output.values() if key in e]:
                worst[key] = min(values)
        return {**worst, "fidelity_outputs": per_output}

    def judge(self, result, reference, family, floors, is_reference) -> Verdict:
        rule = self.budget_for(family)
        verdict = Verdict(budget=f"SNR >= {rule.budget:g} dB against float32")
        if is_reference:
            if result.get("outputs_vary") is False:
                verdict.failures.append("float32 gives the same outputs for every input: the inputs do not reach "
                                        "the model as it expects (check range= and shape=)")
            return verdict
        verdict.within_budget = result["snr_db"] >= rule.budget
        if result["snr_db"] < rule.floor:
            verdict.failures.append(f"output SNR {result['snr_db']:.1f} dB against float32 is below the "
                                    f"{rule.floor:g} dB floor for {family} modes (worst output)")
        return verdict

    def write_samples(self, ws, model_id, mode_ids, device_id, folder):
        from qbench.measure import predict
        from qbench.samples import write_fidelity_samples

        data = ws.evaluation_set(model_id).head(1)
        batch = ws.model(model_id).eval_batch
        outputs = {m: predict(ws.runner(model_id, m, device_id), data, self, batch)[0] for m in mode_ids}
        quality = {m: ws.evaluate(model_id, m, device_id) for m in mode_ids}
        return write_fidelity_samples(data.x, outputs, quality, folder, max_points=SAMPLE_VALUES)


TASK = Fidelity()

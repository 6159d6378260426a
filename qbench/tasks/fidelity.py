"""Fidelity: no labels; each mode is scored against the float32 model's outputs on the same inputs and device.

For every output: SNR in dB (10 log10 of signal over error energy), mean per-sample cosine similarity and the
largest absolute error; where an output is a class-score vector also top-1 agreement with float32, where it is a
height x width x classes map also the IoU of its argmax mask against float32's. A detector's boxes and scores are
scored output by output. The gate is on the worst output's SNR, per mode family
(``budgets``): the *budget* is what a mode must reach to be a candidate (the report shows who met it); the *floor*
is where the outputs no longer follow float32 at all, and the suite fails. float32 itself must produce outputs that
depend on the input. (A mode that quantized nothing is caught by the mode contracts, not here.)

Why these numbers. Uniform b-bit quantization of a full-scale signal has an SNR of about 6.02 b + 1.76 dB (50 dB
at 8 bits); through a network the errors add up. Measured here (worst output, against float32 on XNNPACK):
float16 weights 79 dB; 8-bit modes 44-55 dB on the bars classifier, 19-47 dB on MediaPipe's iris model and 10-23 dB
on its face detector (static int8 lowest); int4 weights 30 dB (bars), 23 dB (iris) and 2 dB (the face detector,
which int4 breaks). One weight tensor replaced by random values (``tests/byo.damage_weights``) drops an int8 model
to 2.6 dB. So the 8-bit and 16-bit floors sit at 5 dB, below every healthy figure and above the damaged one; the
4-bit floor at 0 dB (error energy above the signal's: nothing of float32 left); float16 must keep 20 dB.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from qbench import metrics
from qbench.tasks.base import Budget, FigureSpec, Metric, OutputInfo, Task, Verdict, dequantized

SAMPLE_VALUES = 4000  # points per output in the sample picture
CLASS_SCORE_NAMES = re.compile(r"logit|score|class|prob|softmax", re.IGNORECASE)


def _class_scores(name: str, values: np.ndarray) -> bool:
    """Whether a vector output ranks classes (top-1 agreement means something) rather than regressing values
    (landmark coordinates, box offsets): its name says so, or each sample is a probability distribution."""
    if CLASS_SCORE_NAMES.search(name):
        return True
    return bool(np.all(values >= 0) and np.allclose(values.sum(axis=-1), 1.0, atol=1e-3))


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
        "float": Budget(40.0, 20.0),
        "8bit": Budget(20.0, 5.0),
        "16bit": Budget(30.0, 5.0),
        "4bit": Budget(20.0, 0.0),
    }

    def reduce(self, outputs: Sequence[np.ndarray], info: Sequence[OutputInfo]) -> tuple[np.ndarray, ...]:
        return tuple(dequantized(raw, i.quant) for raw, i in zip(outputs, info))

    def score(self, predictions, data, reference=None, outputs: Sequence[OutputInfo] = ()) -> dict:
        if reference is None:  # float32 itself: does it depend on its input at all?
            varies = any(len(out) > 1 and not np.all(out == out[:1]) for out in predictions)
            return {"outputs_vary": bool(varies) if len(data.x) > 1 else None}
        per_output = {}
        names = [o.name for o in outputs] or [str(i) for i in range(len(predictions))]
        for i, (ref, out) in enumerate(zip(reference, predictions)):
            entry = {"snr_db": metrics.snr_db(ref, out), "cosine": metrics.mean_cosine(ref, out),
                     "max_abs_error": metrics.max_abs_error(ref, out)}
            shape = ref.shape[1:]
            if len(shape) == 1 and shape[0] > 1 and _class_scores(names[i] if i < len(names) else "", ref):
                entry["top1_agreement"] = metrics.agreement(ref.argmax(-1), out.argmax(-1))
            elif len(shape) == 3 and shape[2] > 1:  # a per-pixel class map
                entry["mask_iou"] = metrics.mask_iou(ref.argmax(-1), out.argmax(-1), shape[2])
            per_output[names[i] if i < len(names) else str(i)] = entry
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

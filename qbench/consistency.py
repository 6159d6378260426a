"""Do two machines compute the same thing? (the thesis's open puzzle, §5.2.4-5.2.5)

The thesis saw pixel accuracy and mIoU differ between its laptop and its Raspberry Pi and could not say
why. Every qbench result carries a digest of the raw outputs over the whole evaluation set, a digest of
the predictions and a fixed sample of raw output values, so two runs (e.g. x86_64 and an emulated
Cortex-A72) can be compared case by case and each difference attributed to the backend that ran:

- integer modes (XNNPACK or the built-in kernels) are expected bit-identical, and where they are not, the
  difference is attributed to **requantization rounding**: each op rounds its rescaled accumulator to the
  output's integer grid, and the x86 and NEON code paths (XNNPACK's per-architecture microkernels, TFLite's
  optimized built-in kernels) do not round every near-tie alike. One op differs by at most 1 LSB (MNIST's
  single conv layer: identical or 1 LSB), but in a deep network the differences compound: measured on
  ``deeplab_scenes`` int8 (128x256) on the built-in kernels, x86_64 vs an emulated Cortex-A72, the first
  convolution differs in 132 of 131,072 values by 1 LSB and the tenth layer by up to 12 LSB. So differing
  integer outputs pass when the model's *quality* agrees within ``QUALITY_TOL`` (a broken kernel or emulator
  does not keep mIoU to the third decimal) and the table gives the largest LSB difference seen;
- float modes (float32, float16, dynamic range) may differ by summation order: raw outputs within a
  relative tolerance and quality within a small absolute tolerance;
- GPU and NPU devices (``cm-gpu``, ``cm-npu``) compute with the vendor's arithmetic (fp16 on most GPUs,
  the NPU's own requantization), which no rule about TFLite's kernels covers: judged on quality only.

CompiledModel CPU devices report the kernels their Interpreter twin runs (runtime/devices.py), so the
rules above apply to them as they are. ONNX Runtime's CPU devices (``ort-*``, kernels "cpu") are judged by the same
rules: its MLAS library has per-architecture kernels as XNNPACK does (AVX2/AVX-512 VNNI vs NEON dot products), so
its float modes (``ort-float32``, and ``ort-dynamic-int8``, whose activations are float between ops) may differ by
summation order within the relative tolerance, and its static integer modes (``ort-int8``, ``ort-int8-qoperator``,
calibrated) by requantization rounding with quality equal.

One arithmetic difference is known and named rather than failed: a runtime that reports its int8 products
accumulating in int16 with saturation (``backend.int8_accumulation == "int16-saturating"``: ONNX Runtime's U8S8
kernels on an x86-64 CPU without VNNI, qbench/runtime/onnxruntime.py) does not compute what a VNNI or NEON CPU does,
and loses accuracy to it (MNIST ``ort-int8``: 0.9760 on an AVX2-only AMD EPYC, 0.9800 on an emulated Cortex-A72).
Such an integer case passes with its quality difference in the table and the verdict ``known``, up to
``SATURATION_QUALITY_TOL``; a larger loss, or a difference where neither side saturates, still fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qbench import modes
from qbench.errors import QbenchError
from qbench.report.load import LABEL_METRICS, Case, Run, case_sort_key
from qbench.sources import load_run
from qbench.report.tables import markdown_table

FLOAT_OUTPUT_RTOL = 1e-3  # of the sample's largest magnitude
QUALITY_TOL = 0.002  # accuracy / pixel accuracy / mIoU, absolute
#: the most quality an int16-saturating int8 accumulation may explain: 2.5x MNIST's measured 0.004 (ort-int8 on an
#: AVX2-only x86-64); a kernel or emulator that is broken loses far more
SATURATION_QUALITY_TOL = 0.01
SATURATING = "int16-saturating"
ACCELERATOR_KERNELS = {"gpu", "npu"}
DIGEST = "outputs_xxh3_128"  # qbench before 2026-11-27 wrote outputs_sha256, which is not comparable with it


@dataclass
class ConsistencyResult:
    passed: bool
    table: str
    failures: list[str] = field(default_factory=list)


def _sample_diff(a: Case, b: Case) -> float | None:
    sa, sb = a.info.get("output_sample"), b.info.get("output_sample")
    if not sa or not sb or len(sa) != len(sb):
        return None
    return float(np.max(np.abs(np.asarray(sa, np.float64) - np.asarray(sb, np.float64))))


def _saturating(case: Case) -> bool:
    return case.info.get("backend", {}).get("int8_accumulation") == SATURATING


def _judge(a: Case, b: Case, labels: tuple[str, str] = ("first", "second")) -> tuple[str, str | None, bool]:
    """(what was seen, the rule broken or None, whether it is a known arithmetic difference)."""
    if not a.info.get(DIGEST) or not b.info.get(DIGEST):
        older = " (made by an older qbench: outputs_sha256)" if "outputs_sha256" in (a.info | b.info) else ""
        return "no comparable output digests" + older, f"re-run both with this qbench: results lack {DIGEST}", False
    if a.info[DIGEST] == b.info[DIGEST]:
        return "bit-identical", None, False
    diff = _sample_diff(a, b)
    kernels = {a.info.get("backend", {}).get("kernels"), b.info.get("backend", {}).get("kernels")}
    integer = modes.MODES[a.mode].calibrated if a.mode in modes.MODES else False
    quality = max((abs(a.quality[m] - b.quality[m]) for m in LABEL_METRICS if m in a.quality and m in b.quality),
                  default=0.0)
    seen = f"outputs differ (sample max |diff| {diff if diff is not None else '?'})"
    if kernels & ACCELERATOR_KERNELS:
        if quality > QUALITY_TOL:
            return seen, f"quality differs by {quality:.4f} (> {QUALITY_TOL})", False
        return seen + f"; {'/'.join(sorted(k or '?' for k in kernels))} arithmetic: judged on quality only", None, False
    integer_output = a.info.get("output_dtype", "float32") != "float32"
    if integer:
        saturating = [label for label, case in zip(labels, (a, b)) if _saturating(case)]
        if saturating and len(saturating) < 2 and quality > QUALITY_TOL:
            if quality > SATURATION_QUALITY_TOL:
                return seen, (f"integer outputs differ and quality differs by {quality:.4f}, more than the "
                              f"{SATURATION_QUALITY_TOL} the saturating int8 accumulation of {saturating[0]} "
                              "explains"), False
            return (f"{seen}; {saturating[0]} accumulates int8 products in int16 with saturation, "
                    f"quality differs by {quality:.4f}"), None, True
        if quality > QUALITY_TOL:
            return seen, f"integer outputs differ and quality differs by {quality:.4f} (> {QUALITY_TOL})", False
        lsb = f", up to {diff:g} LSB in the sample" if integer_output and diff else ""
        rounding = f"{'/'.join(sorted(kernels))} requantization rounding (x86 vs NEON{lsb}), quality equal"
        return f"{seen}; {rounding}", None, False
    if not integer_output and diff is not None:
        scale = max(np.max(np.abs(a.info["output_sample"])), 1e-12)
        if diff / scale > FLOAT_OUTPUT_RTOL:
            return seen, f"float outputs differ by more than {FLOAT_OUTPUT_RTOL:g} relative", False
    if quality > QUALITY_TOL:
        return seen, f"quality differs by {quality:.4f} (> {QUALITY_TOL})", False
    return seen + f"; within tolerance ({'/'.join(sorted(k or '?' for k in kernels))} rounding)", None, False


def compare(run_a: str | Path, run_b: str | Path) -> ConsistencyResult:
    a, b = load_run(run_a), load_run(run_b)  # files or stores: no Path() that would fold a URL's //
    common = sorted(set(a.cases) & set(b.cases), key=case_sort_key)
    if not common:
        raise QbenchError(f"{run_a} and {run_b} have no model x mode x device in common",
                          "compare runs of the same models, modes and devices")
    rows, failures, notes = [], [], []
    for key in common:
        ca, cb = a.cases[key], b.cases[key]
        seen, broken, known = _judge(ca, cb, (a.machine.label, b.machine.label))
        same_pred = ca.info.get("predictions_sha256") == cb.info.get("predictions_sha256")
        quality = "; ".join(f"{m} {ca.quality[m]:.4f}→{cb.quality[m]:.4f}" for m in LABEL_METRICS
                            if m in ca.quality and m in cb.quality)
        backend = f"{ca.info.get('backend', {}).get('kernels', '?')}/{cb.info.get('backend', {}).get('kernels', '?')}"
        rows.append([*key, backend, seen, "same" if same_pred else "differ", quality,
                     "FAIL" if broken else ("known" if known else "ok")])
        if known:
            notes.append(f"{'/'.join(key)}: {seen}")
        if broken:
            failures.append(f"{'/'.join(key)}: {broken}")
    table = markdown_table(
        ["Model", "Mode", "Device", "Kernels", "Raw outputs", "Predictions", "Quality", "Verdict"], rows
    )
    header = f"{_label(a)}  vs  {_label(b)}: {len(common)} case(s) in common"
    verdict = "PASSED" if not failures else f"FAILED: {len(failures)} case(s)\n" + "\n".join(f"- {f}" for f in failures)
    if notes:
        verdict += f"\n\nknown arithmetic differences, not failures: {len(notes)} case(s)\n" + "\n".join(
            f"- {n}" for n in notes)
    return ConsistencyResult(not failures, f"{header}\n\n{table}\n\n{verdict}", failures)


def _label(run: Run) -> str:
    return f"{run.machine.label} ({run.path.name})"

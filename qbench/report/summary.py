"""The answer where the user looks: a compact summary per model x device at the end of ``pytest benchmarks/``.

Per model x device: each mode's size (and its share of float32's), its quality (the task's primary metric) and its
change from float32, its latency ratio to float32 with the 95 % interval from the interleaved passes, whether it met
its quality budget; then the verdict line (``qbench.verdict``: fastest and smallest within budget, ties named). The
same records and rules as ``qbench report``'s recommendation table, read from the session's own run document.
"""

from __future__ import annotations

from qbench import mcu, tasks, verdict
from qbench.modes import is_reference
from qbench.report.load import Run
from qbench.report.recommend import Answer, answers, describe_fastest, describe_smallest, within_budget
from qbench.report.recommend import quality as recommend_quality
from qbench.report.tables import num, size_unit, time_unit

BUSY = 0.10  # other processes' share of the CPU while timing above which the summary warns


def _quality(answer: Answer, case) -> str:
    task = (tasks.get(case.task) if case.task in tasks.TASKS else None)
    metric = next((m for m in task.metrics if m.key == task.primary), None) if task else None
    if metric is None or metric.key not in case.quality:
        return "-" if not is_reference(case.info.get("mode") or case.mode) else "reference"
    value = metric.cell(case.quality[metric.key])
    ref = answer.reference
    if ref is None or case is ref or metric.key not in ref.quality:
        return value
    return f"{value} ({metric.shown(case.quality[metric.key]) - metric.shown(ref.quality[metric.key]):+.2f})"


def _latency(answer: Answer, case, unit: tuple[str, float]) -> str:
    own = f"{num(unit[1] * case.latency_median_s)} {unit[0]}"
    ref = answer.reference
    if ref is None or case is ref:
        return f"{own}, reference" if case is ref else own
    r = verdict.ratio(case, ref)
    if r is None:
        return f"{own}, x{case.latency_median_s / ref.latency_median_s:.2f} (no interval)"
    return f"{own}, x{r.estimate:.2f} [{r.low:.2f}, {r.high:.2f}]"


def _budget(case) -> str:
    met = within_budget(case)
    return "ref" if is_reference(case.info.get("mode") or case.mode) else {True: "yes", False: "no", None: "-"}[met]


def lines(run: Run) -> list[str]:
    out = []
    for answer in answers([run]):
        if not answer.cases:
            continue
        s_unit = size_unit(max(c.model_bytes for c in answer.cases))
        t_unit = time_unit(max(c.latency_median_s for c in answer.cases))
        task = (tasks.get(answer.cases[0].task) if answer.cases[0].task in tasks.TASKS else None)
        metric = next((m.header for m in task.metrics if m.key == task.primary), "quality") if task else "quality"
        out.append(f"qbench: {answer.model} on {answer.device} (budget: {answer.budget})")
        notes = sorted({n for c in answer.cases if (n := c.info.get("latency_note"))})
        out += [f"  latency {n}" for n in notes]
        ref = answer.reference
        name = ref.mode if ref else "float32"
        rows = [["mode", "size", f"{metric} (vs {name})", f"latency, x {name} [95 % interval]", "budget"]]
        for c in answer.cases:
            share = f" {c.model_bytes / ref.model_bytes:4.0%}" if ref else ""
            rows.append([c.mode, f"{num(c.model_bytes / s_unit[1])} {s_unit[0]}{share}", _quality(answer, c),
                         _latency(answer, c, t_unit), _budget(c)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        out.append(f"  fastest within budget: {describe_fastest(answer)}")
        out.append(f"  smallest within budget: {describe_smallest(answer, s_unit)}")
        if any(mcu.footprint(c.info) for c in answer.cases):
            fits = mcu.verdicts(answer.cases, [c for c in answer.cases if within_budget(c)],
                                {c.mode: recommend_quality(c) for c in answer.cases})
            out.append("  smallest within budget that fits (arena + flash, model only): "
                       + "; ".join(f"{f.mcu.name}: {mcu.describe(f)}" for f in fits))
        busy = max((c.info.get("timing", {}).get("other_cpu_share") or 0 for c in answer.cases), default=0)
        if busy > BUSY:
            out.append(f"  warning: other processes used {busy:.0%} of the CPU while these were timed: latencies "
                       "may be off; rerun on a quiet machine")
    if out:
        out.append(f"qbench: x = latency relative to the device's float32 (mode@device: another framework timed in "
                   f"the same passes); tied = not confidently slower than "
                   f"the fastest by more than {verdict.MARGIN:.0%} (README: A verdict that holds)")
    return out

"""The report's opening answer: which mode to ship, per model, machine and device.

Per model x machine x device: the fastest and the smallest mode *within the quality budget* (what each result
records as ``within_budget``; float32 is the reference and always qualifies), and the Pareto set over size, latency
and quality (no other mode is at least as small, as fast and as good, and better in one), with the budget stated.
Quality is the task's primary metric (accuracy, mIoU, output SNR; float32's own SNR counts as perfect). A result
without ``within_budget`` (older runs) cannot be recommended and is counted in the note.
"""

from __future__ import annotations

import math

from qbench import tasks
from qbench.modes import BUDGET_SUFFIX
from qbench.report.load import BASELINE_MODE, Case, Run, order
from qbench.report.tables import Table, num, size_unit, time_unit
from qbench.runtime import DEVICES


def within_budget(case: Case) -> bool | None:
    """True/False as recorded; float32 (the reference) qualifies; None when the result does not say."""
    if case.mode == BASELINE_MODE:
        return True
    met = case.info.get("within_budget")
    return None if met is None else bool(met)


def _mark(met: bool | None) -> str:
    return "" if met else (" (over budget)" if met is False else " (budget not recorded)")


def quality(case: Case) -> float | None:
    """The task's primary metric, higher is better (float32 is its own fidelity reference: infinitely good)."""
    primary = tasks.get(case.task).primary if case.task in tasks.TASKS else None
    value = case.quality.get(primary) if primary else None
    if value is None and case.mode == BASELINE_MODE:
        return math.inf
    return value


def pareto(cases: list[Case]) -> list[Case]:
    """The cases no other case dominates on (bytes, latency: lower is better; quality: higher is better)."""
    scored = [(c, quality(c)) for c in cases]
    scored = [(c, q) for c, q in scored if q is not None]

    def dominates(a: tuple[Case, float], b: tuple[Case, float]) -> bool:
        (ca, qa), (cb, qb) = a, b
        no_worse = ca.model_bytes <= cb.model_bytes and ca.latency_median_s <= cb.latency_median_s and qa >= qb
        better = ca.model_bytes < cb.model_bytes or ca.latency_median_s < cb.latency_median_s or qa > qb
        return no_worse and better

    front = [s for s in scored if not any(dominates(o, s) for o in scored if o is not s)]
    return [c for c, _ in sorted(front, key=lambda s: (s[0].model_bytes, s[0].latency_median_s))]


def distinct_files(cases: list[Case]) -> list[Case]:
    """One case per model file: a ``+budget`` mode that kept no layer *is* its lossy mode's file, byte for byte,
    and recommending one over the other would only pick the luckier latency sample. The base mode's name stays."""
    chosen: dict = {}
    for case in cases:
        sha = case.info.get("model_sha256") or id(case)  # older runs without a sha256: every case its own file
        kept = chosen.get(sha)
        if kept is None or (kept.mode.endswith(BUDGET_SUFFIX) and not case.mode.endswith(BUDGET_SUFFIX)):
            chosen[sha] = case
    keep = {id(c) for c in chosen.values()}
    return [c for c in cases if id(c) in keep]


def recommendation_table(runs: list[Run]) -> Table:
    models = sorted({c.model for r in runs for c in r.cases.values()})
    rows, unknown = [], 0
    for model in models:
        of_model = [c for r in runs for c in r.cases.values() if c.model == model]
        s_unit, s_scale = size_unit(max(c.model_bytes for c in of_model))
        t_unit, t_scale = time_unit(max(c.latency_median_s for c in of_model))
        for run in runs:
            cases = [c for c in run.cases.values() if c.model == model]
            for device in order({c.device for c in cases}, DEVICES):
                here = distinct_files([c for c in cases if c.device == device])
                unknown += sum(within_budget(c) is None for c in here)
                eligible = [c for c in here if within_budget(c)]
                budget = "; ".join(sorted({b for c in here if (b := c.info.get("quality_budget"))})) or "-"
                ref = next((c for c in here if c.mode == BASELINE_MODE), None)
                fastest = min(eligible, key=lambda c: (c.latency_median_s, c.model_bytes), default=None)
                smallest = min(eligible, key=lambda c: (c.model_bytes, c.latency_median_s), default=None)

                def speed(c: Case) -> str:
                    ratio = f", x{ref.latency_median_s / c.latency_median_s:.2f}" if ref else ""
                    return f"{c.mode} ({num(t_scale * c.latency_median_s)} {t_unit}{ratio})"

                def size(c: Case) -> str:
                    ratio = f", {c.model_bytes / ref.model_bytes:.2f}" if ref else ""
                    return f"{c.mode} ({num(c.model_bytes / s_scale)} {s_unit}{ratio})"

                front = pareto(here)
                rows.append([model, run.label, device, budget, speed(fastest) if fastest else "-",
                             size(smallest) if smallest else "-",
                             ", ".join(c.mode + _mark(within_budget(c)) for c in front)])
    note = ("Fastest / smallest: among the modes within the quality budget on that device (float32 is the reference "
            "and always qualifies); x = speedup over float32 on the same device, and size as a fraction of float32. "
            "Pareto set: no other mode is as small, as fast and as good (quality = the task's primary metric), "
            "smallest first. A +budget mode that kept no layer is its lossy mode's file and is listed under that name.")
    if unknown:
        note += f" {unknown} result(s) do not record whether they met the budget (older runs) and are not recommended."
    return Table("Recommendation: which mode to ship", ["Model", "Machine", "Device", "Quality budget",
                                                         "Fastest within budget", "Smallest within budget",
                                                         "Pareto set (size, latency, quality)"], rows, note)

"""The report's opening answer: which mode to ship, per model, machine and device (rules: ``qbench.verdict``).

Per model x machine x device: the fastest and the smallest mode *within the quality budget* (what each result
records as ``within_budget``; float32 is the reference and always qualifies), with what each is tied with, and the
Pareto set over size, latency and quality, with the budget stated. Latency comparisons use the interleaved passes'
paired intervals; a difference inside the noise or under the practical margin (10 %) is a tie and is called one. Quality is the
task's primary metric (accuracy, mIoU, output SNR; float32's own SNR counts as perfect). With several runs of one
machine, a replicability table says how often each verdict came out the same. A result without ``within_budget``
(older runs) cannot be recommended and is counted in the note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from qbench import tasks, verdict
from qbench.intervals import Ratio
from qbench.modes import BUDGET_SUFFIX
from qbench.modes import is_reference
from qbench.report.load import Case, Run, order
from qbench.report.tables import Table, num, size_unit
from qbench.runtime import DEVICES


def _mode(case: Case) -> str:
    """The case's mode id (a peer device's case is shown as ``mode@device`` beside the LiteRT device's modes)."""
    return case.info.get("mode") or case.mode


def within_budget(case: Case) -> bool | None:
    """True/False as recorded; float32 (a framework's reference) qualifies; None when the result does not say."""
    if is_reference(_mode(case)):
        return True
    met = case.info.get("within_budget")
    return None if met is None else bool(met)


def _mark(met: bool | None) -> str:
    return "" if met else (" (over budget)" if met is False else " (budget not recorded)")


def quality(case: Case) -> float | None:
    """The task's primary metric, higher is better (float32 is its own fidelity reference: infinitely good)."""
    primary = tasks.get(case.task).primary if case.task in tasks.TASKS else None
    value = case.quality.get(primary) if primary else None
    if value is None and is_reference(_mode(case)):
        return math.inf
    return value


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


@dataclass(frozen=True)
class Answer:
    """The verdicts on one model x machine x device."""

    model: str
    run: Run
    device: str
    budget: str
    cases: list[Case]
    reference: Case | None
    fastest: verdict.Pick | None
    smallest: verdict.Pick | None
    front: list[Case]
    unknown: int  # results that do not record whether they met the budget

    def key(self) -> tuple:
        """What replicability compares between runs: the picks with their ties, and the Pareto set."""
        return (self.fastest and (self.fastest.case.mode, self.fastest.modes),
                self.smallest and self.smallest.case.mode, tuple(c.mode for c in self.front))


def answers(runs: list[Run]) -> list[Answer]:
    found = []
    for model in sorted({c.model for r in runs for c in r.cases.values()}):
        for run in runs:
            cases = [c for c in run.cases.values() if c.model == model]
            for device in order({c.device for c in cases}, DEVICES):
                here = distinct_files([c for c in cases if c.device == device])
                ref = next((c for c in here if is_reference(c.mode)), None)
                if here:  # another framework's devices that name this one their peer: ranked beside its modes
                    for peer in order({c.device for c in cases if _peer(c.device) == device}, DEVICES):
                        here += [replace(c, mode=f"{c.mode}@{peer}")
                                 for c in distinct_files([c for c in cases if c.device == peer])]
                eligible = [c for c in here if within_budget(c)]
                scores = {c.mode: quality(c) for c in here}
                budget = "; ".join(sorted({b for c in here if (b := c.info.get("quality_budget"))})) or "-"
                found.append(Answer(model, run, device, budget, here, ref, verdict.fastest(eligible, scores, ref),
                                    verdict.smallest(eligible, scores), verdict.pareto(here, scores),
                                    sum(within_budget(c) is None for c in here)))
    return found


def _peer(device: str) -> str | None:
    return DEVICES.get(device).peer if device in DEVICES else None


def _vs_reference(case: Case, ref: Case | None) -> str:
    """The case's latency relative to float32 on the same device, with its 95 % interval."""
    if ref is None:
        return ""
    if case is ref:
        return "the reference"
    r = verdict.ratio(case, ref)
    if r is not None:
        return f"{r.estimate:.2f}x {ref.mode} latency [{r.low:.2f}, {r.high:.2f}]"
    return f"{case.latency_median_s / ref.latency_median_s:.2f}x {ref.mode} latency, no interval"


def _tied(ties: dict[str, Ratio | None]) -> str:
    parts = []
    for mode, r in ties.items():
        parts.append(f"{mode} ({'+' if r and r.estimate >= 1 else ''}{(r.estimate - 1) * 100:.0f} %)" if r else mode)
    return ", ".join(parts)


def describe_fastest(answer: Answer) -> str:
    pick = answer.fastest
    if pick is None:
        return "-" if not answer.cases else "none ranked" + (f" (unstable: {', '.join(_unstable(answer))})"
                                                             if _unstable(answer) else "")
    text = f"{pick.case.mode} ({_vs_reference(pick.case, answer.reference)})" if answer.reference else pick.case.mode
    if pick.tied:
        text += f"; tied with {_tied(pick.tied)}"
    if pick.unstable:
        text += f"; unstable, not ranked: {', '.join(pick.unstable)}"
    return text


def _unstable(answer: Answer) -> list[str]:
    return [c.mode for c in answer.cases if verdict.unstable(c, answer.reference)]


def describe_smallest(answer: Answer, unit: tuple[str, float]) -> str:
    pick = answer.smallest
    if pick is None:
        return "-"
    ref = answer.reference
    ratio = f", {pick.case.model_bytes / ref.model_bytes:.2f}" if ref else ""
    return f"{pick.case.mode} ({num(pick.case.model_bytes / unit[1])} {unit[0]}{ratio})" + (
        f"; same size: {', '.join(pick.tied)}" if pick.tied else "")


def latency_label(answer: Answer) -> str:
    """" (host-only latency)" for a device whose timings are not its target's (``Device.latency_note``), else ""."""
    notes = sorted({n.split(":")[0] for c in answer.cases if (n := c.info.get("latency_note"))})
    return f" ({', '.join(notes)} latency)" if notes else ""


NOTE = ("Within the quality budget on that device (float32 is the reference and always qualifies). Fastest: the modes "
        f"not confidently slower than the fastest by more than {verdict.MARGIN:.0%} (95 % paired intervals from "
        "interleaved passes) are tied with it, and the pick among them is the smallest file, then the best quality; "
        "latency is given relative to float32 on the same device, with its interval; ties show their latency "
        f"difference to the pick. A mode whose ratio to float32 spans more than {verdict.UNSTABLE_WIDTH - 1:.0%} is unstable and not "
        "ranked. Smallest: size as a fraction of float32. Another framework's device (ONNX Runtime's) is answered on its own, "
        "against its own float32, and its modes are ranked again beside the LiteRT device it names as its peer (shown "
        "as mode@device: timed in the same passes, judged by the budget against their own float32). Pareto set: no other mode is as small, as good and not "
        "slower while better in one of them (slower as above), smallest first. A +budget mode that kept no layer is "
        "its lossy mode's file and is listed under that name.")


def recommendation_table(runs: list[Run]) -> Table:
    rows, unknown = [], 0
    found = answers(runs)
    units = {a.model: size_unit(max(c.model_bytes for c in a.cases)) for a in found if a.cases}
    for a in found:
        unknown += a.unknown
        rows.append([a.model, a.run.label, a.device, a.budget, describe_fastest(a) + latency_label(a),
                     describe_smallest(a, units.get(a.model, ("KiB", 1024.0))),
                     ", ".join(c.mode + _mark(within_budget(c)) for c in a.front)])
    note = NOTE
    if unknown:
        note += f" {unknown} result(s) do not record whether they met the budget (older runs) and are not recommended."
    return Table("Recommendation: which mode to ship", ["Model", "Machine", "Device", "Quality budget",
                                                         "Fastest within budget", "Smallest within budget",
                                                         "Pareto set (size, latency, quality)"], rows, note)


def replicability_table(runs: list[Run]) -> Table | None:
    """With several runs of one machine: how often each model x device's verdicts came out the same (MLPerf's
    replicability check), or None when no machine has two runs."""
    by_row: dict[tuple, list[Answer]] = {}
    for a in answers(runs):
        by_row.setdefault((a.model, a.run.machine.label, a.device), []).append(a)
    rows = []
    for (model, machine, device), found in by_row.items():
        if len(found) < 2:
            continue
        cells = []
        for part in range(3):
            common, share = verdict.agreement([a.key()[part] for a in found])
            cells.append(f"{share:.0%}")
        fastest, _ = verdict.agreement([a.key()[0] for a in found])
        picked = f"{fastest[0]} (tie set {', '.join(sorted(fastest[1]))})" if fastest else "-"
        busy = max((c.info.get("timing", {}).get("other_cpu_share") or 0 for a in found for c in a.cases),
                   default=0)
        rows.append([model, machine, device, str(len(found)), *cells, picked, f"{busy:.0%}"])
    if not rows:
        return None
    return Table("Replicability: the same verdict in every run?", [
        "Model", "Machine", "Device", "Runs", "Fastest + ties", "Smallest", "Pareto set", "Most common fastest",
        "Busiest other-CPU share"], rows,
        "Share of the runs whose verdict equals the most common one (100 % = the same in every run). "
        "Other-CPU share: the largest share of the machine's CPU time other processes used while a group was timed.")

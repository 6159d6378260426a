"""The report's tables as plain rows, rendered to markdown here and to HTML by ``html.py``.

Rows are built once so the console, tables.md and index.html can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qbench.modes import is_reference, reference_of
from qbench.report.load import Case, Run, case_sort_key
from qbench.tasks import all_metrics



@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A pipe table padded to line up in a terminal as well as render as markdown."""
    headers, rows = _cells(headers), [_cells(r) for r in rows]
    widths = [max(len(c) for c in column) for column in zip(headers, *rows)]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def _cells(row: list) -> list[str]:
    return [str(c).replace("|", "\\|") for c in row]  # a user's model id may hold a pipe


def to_markdown(tables: list[Table]) -> str:
    parts = []
    for t in tables:
        parts += [f"## {t.title}", "", markdown_table(t.headers, t.rows), ""]
        if t.note:
            parts += [t.note, ""]
    return "\n".join(parts)


def num(value: float | None, digits: int = 3) -> str:
    """``digits`` significant digits without exponents: 0.0451, 12.3, 1234."""
    if value is None:
        return "-"
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return f"{value:.{max(0, digits - 1 - magnitude)}f}"


def size_unit(max_bytes: float) -> tuple[str, float]:
    return ("MiB", 2.0**20) if max_bytes >= 10 * 2**20 else ("KiB", 2.0**10)


def time_unit(max_seconds: float) -> tuple[str, float]:
    """µs for a model that runs in under a millisecond everywhere, else ms."""
    return ("µs", 1e6) if max_seconds < 1e-3 else ("ms", 1e3)


def runs_table(runs: list[Run]) -> Table:
    rows = [
        [r.label, r.path.name, r.datetime[:19].replace("T", " "), str(len(r.cases)),
         r.versions.get("ai-edge-litert", "-"), r.versions.get("python", "-"),
         "yes" if any(c.samples for c in r.cases.values()) else "no"]
        for r in runs
    ]
    headers = ["Machine", "File", "Date (UTC)", "Cases", "ai-edge-litert", "Python", "Raw samples"]
    return Table("Runs", headers, rows)


def model_table(model: str, runs: list[Run]) -> Table:
    """Machine x device x mode rows of one model; speedup is against float32 on the same device and machine."""
    cases = [(run, c) for run in runs for c in sorted(run.cases.values(), key=lambda c: case_sort_key(c.key))
             if c.model == model]
    metrics = [m for m in all_metrics().values() if any(m.key in c.quality for _, c in cases)]
    unit, scale = size_unit(max(c.model_bytes for _, c in cases))
    t_unit, t_scale = time_unit(max(c.latency_median_s for _, c in cases))
    # Quality on the first N samples (--qbench-eval-limit) is only comparable with quality on N samples.
    samples = ["Eval samples", "Within budget"] if metrics else []
    headers = ["Machine", "Device", "Mode", f"Size ({unit})", "Size vs float32", *(m.header for m in metrics),
               *samples, f"Median ({t_unit})", f"p90 ({t_unit})", "FPS", "Speedup vs float32"]
    rows = []
    for run, c in cases:
        quality = [m.cell(c.quality.get(m.key)) for m in metrics]
        if samples:
            quality += [str(c.eval_samples or "-"), _within_budget(c)]
        ratio = run.latency_ratio(c.key)
        rows.append([
            run.label, c.device, c.mode, num(c.model_bytes / scale, 4), _size_ratio(run, c), *quality,
            num(t_scale * c.latency_median_s), num(None if c.latency_p90_s is None else t_scale * c.latency_p90_s),
            num(c.fps), f"x{1 / ratio:.2f}" if ratio else "-",
        ])
    task = cases[0][1].task
    budgets = sorted({b for _, c in cases if (b := c.info.get("quality_budget"))})
    note = ("Latency is per invoke() call. Speedup = float32 median / mode median on the same device and machine."
            + (f" Quality budget: {'; '.join(budgets)}." if budgets else "") + _source_note(cases))
    return Table(f"{model} ({task})", headers, rows, note)


def twin_table(runs: list[Run]) -> Table | None:
    """Each mode that names a twin (``Mode.twin``: a quantization-aware mode's post-training counterpart) beside it,
    per machine, model and device: primary quality, size, median latency and what fine-tuning cost. None when no
    run holds such a pair."""
    from qbench import quantizers  # noqa: F401  (every built-in backend's modes registered: runs older than "twin")
    from qbench.modes import MODES
    from qbench.tasks import get as task_of

    rows = []
    for run in runs:
        for c in sorted(run.cases.values(), key=lambda c: case_sort_key(c.key)):
            twin_id = c.info.get("twin") or (MODES.get(c.mode).twin if c.mode in MODES else None)
            twin = run.cases.get((c.model, twin_id, c.device)) if twin_id else None
            if twin is None:
                continue
            metric = all_metrics().get(task_of(c.task).primary) if c.task else None
            mine, theirs = (None if metric is None else x.quality.get(metric.key) for x in (c, twin))
            delta = "-" if mine is None or theirs is None else f"{metric.shown(mine) - metric.shown(theirs):+.2f}"
            tuned = c.info.get("fine_tune") or {}
            rows.append([run.label, c.model, c.device, c.mode, twin.mode,
                         metric.header if metric else "-", metric.cell(mine) if metric else "-",
                         metric.cell(theirs) if metric else "-", delta,
                         num(c.model_bytes / 1024, 4), num(twin.model_bytes / 1024, 4),
                         f"x{twin.latency_median_s / c.latency_median_s:.2f}" if c.latency_median_s else "-",
                         "-" if tuned.get("seconds") is None else f"{tuned['seconds']:.0f} s ({tuned.get('steps')} steps)"])
    if not rows:
        return None
    headers = ["Machine", "Model", "Device", "Mode", "Twin", "Metric", "Mode quality", "Twin quality", "Difference",
               "Size (KiB)", "Twin size (KiB)", "Speed vs twin", "Fine-tune"]
    note = ("A quantization-aware mode fine-tunes the model with fake quantization before the same conversion as its "
            "post-training twin. Speed vs twin = twin median / mode median on the same device (above 1: faster). "
            "Fine-tune: what its one build spent fine-tuning (cached afterwards).")
    return Table("Quantization-aware vs post-training", headers, rows, note)


SOURCES = {"shipped": "the shipped reference weights", "trained": "weights trained on the build machine",
           "imported": "the user's model file", "pretrained": "the pretrained file"}


def _source_note(cases: list[tuple[Run, Case]]) -> str:
    """Which model every mode was made from (``source``, ``weights_sha256``), per run when runs differ."""
    found: dict[tuple, list[str]] = {}
    for run, c in cases:
        if c.info.get("source"):
            labels = found.setdefault((c.info["source"], c.info.get("weights_sha256")), [])
            if run.label not in labels:
                labels.append(run.label)
    parts = [f"{SOURCES.get(source, source)}" + (f" (sha256 {sha[:12]})" if sha else "")
             + (f" on {', '.join(labels)}" if len(found) > 1 else "") for (source, sha), labels in found.items()]
    return f" Model: {'; '.join(parts)}." if parts else ""


def _within_budget(case: Case) -> str:
    """Whether the mode met its task's quality budget (e.g. mIoU >= 0.96 x float32); "ref" for float32 itself."""
    met = case.info.get("within_budget")
    if is_reference(case.mode):
        return "ref"
    return "-" if met is None else ("yes" if met else "no")


def _size_ratio(run: Run, case: Case) -> str:
    ref = run.cases.get((case.model, reference_of(case.mode), case.device))
    ratio = case.model_bytes / ref.model_bytes if ref else case.size_ratio
    return "-" if ratio is None else f"{ratio:.2f}"

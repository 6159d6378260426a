"""Trend figures: each gated metric over a machine's runs (commits / time), with the gate's limit drawn.

A report of many runs of one machine -- typically read from a results store -- answers "when did this
get slower, smaller, less accurate?". One figure per model and metric; one panel per machine x device
(size: per machine); one line per mode. Runs are ordered by commit time when every run of the machine
knows it (asv's view of history), else by when they ran. Against each run from the second on, a short
dashed tick marks the limit ``qbench gate PREVIOUS THIS`` would enforce (``GateConfig``: the quality
tolerances, ``size_tol``, ``latency_ratio_tol``, and ``raw_min_shift`` for raw latency, whose gate also
needs a significant Mann-Whitney test); a run beyond it is ringed in red.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from statistics import median
from typing import Callable

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from qbench.gate import GateConfig
from qbench.modes import MODES
from qbench.report.figures import slug
from qbench.report.plotting import MODE_COLORS, MODE_MARKERS, STYLE, Written, _color, _log_if_wide
from qbench.modes import is_reference
from qbench.report.load import Case, Machine, Run, order
from qbench.report.tables import size_unit, time_unit
from qbench.runtime import DEVICES

FAIL_COLOR = "#C0392B"
MAX_TICK_LABELS = 12


@dataclass(frozen=True)
class Trend:
    suffix: str
    title: str  # "<model>: <title>"
    ylabel: str
    value: Callable[[Run, Case, "_Units"], float | None]
    limit: Callable[[float, GateConfig], float]  # the gate's limit given the previous run's value
    rule: Callable[[GateConfig], str]  # the setting behind the limit, as the caption shows it
    worse: str  # "up" or "down": which side of the limit fails
    per_device: bool = True
    metric: str | None = None  # a quality metric the model must have

    def basis(self, case: Case):
        """What two runs' values must share to be gated against each other: quality, the evaluation set size
        (a run under --qbench-eval-limit is not a regression of a full run); anything else, nothing."""
        return case.eval_samples if self.metric else None


@dataclass(frozen=True)
class _Units:
    time: tuple[str, float]
    size: tuple[str, float]


def _quality(metric: str, label: str) -> Trend:
    return Trend(
        metric.replace("_", "-"), f"{label} over runs (higher is better)", f"{label} (%)",
        lambda run, c, u: 100 * c.quality[metric] if metric in c.quality else None,
        lambda prev, cfg: prev - 100 * cfg.tolerance(metric),
        lambda cfg: f"{metric}_tol = {cfg.tolerance(metric):g}", "down", metric=metric,
    )


TRENDS = [
    Trend("latency-ratio", "latency / float32 on the same device over runs (lower is better)",
          "Latency / float32 (x)",
          lambda run, c, u: run.latency_ratio(c.key) if not is_reference(c.mode) else None,
          lambda prev, cfg: prev * (1 + cfg.latency_ratio_tol),
          lambda cfg: f"latency_ratio_tol = {cfg.latency_ratio_tol:.0%}", "up"),
    Trend("latency", "median latency per invoke over runs (lower is better)", "Median latency ({time})",
          lambda run, c, u: c.latency_median_s * u.time[1],
          lambda prev, cfg: prev * (1 + cfg.raw_min_shift),
          lambda cfg: f"raw_min_shift = {cfg.raw_min_shift:.0%}, with Mann-Whitney p < {cfg.raw_alpha:g} "
                      "where raw samples were saved", "up"),
    _quality("accuracy", "Top-1 accuracy"),
    _quality("pixel_accuracy", "Pixel accuracy"),
    _quality("miou", "mIoU"),
    Trend("size", "model size over runs (lower is better)", "Model size ({size})",
          lambda run, c, u: c.model_bytes / u.size[1],
          lambda prev, cfg: prev * (1 + cfg.size_tol),
          lambda cfg: f"size_tol = {cfg.size_tol:.0%}", "up", per_device=False),
]


def history(runs: list[Run]) -> dict[Machine, list[Run]]:
    """Each machine's runs in order (commit time when all have one, else run time); 2+ runs only."""
    by_machine: dict[Machine, list[Run]] = {}
    for run in runs:
        by_machine.setdefault(run.machine, []).append(run)
    ordered = {}
    for machine, mine in by_machine.items():
        if len(mine) < 2:
            continue
        commit_times = [_when(r.commit.time if r.commit else None) for r in mine]
        run_times = [_when(r.datetime) for r in mine]
        if all(commit_times):
            keys = list(zip(commit_times, run_times))
        else:
            keys = [(t, t) for t in run_times]
        ordered[machine] = [r for _, r in sorted(zip(keys, mine), key=lambda p: (p[0][0], p[0][1]))]
    return ordered


def _when(text: str | None) -> datetime:
    """A sortable naive-UTC moment; unknown or unparsable sorts first."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return datetime.min
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _tick(run: Run) -> str:
    date = run.datetime[5:16].replace("T", " ")
    return f"{run.commit.short}\n{date}" if run.commit else date


def render_trends(runs: list[Run], out, config: GateConfig | None = None) -> tuple[list[Written], list[str]]:
    config = config or GateConfig()
    machines = history(runs)
    if not machines:
        return [], ["Trend figures: no machine has two or more runs in this report (read several runs of one "
                    "machine, e.g. from a store: 'STORE?machine=NAME&latest=10')"] if len(runs) > 1 else []
    written, skipped = [], []
    models = sorted({m for r in runs for m in r.models})
    with matplotlib.rc_context(STYLE):
        for model in models:
            series = {m: [r for r in rs if model in r.models] for m, rs in machines.items()}
            series = {m: rs for m, rs in series.items() if len(rs) >= 2}
            if not series:
                skipped.append(f"{model}: trend figures - skipped, no machine has two or more runs of it")
                continue
            cases = [c for rs in series.values() for r in rs for c in r.cases.values() if c.model == model]
            units = _Units(time_unit(max(c.latency_median_s for c in cases)),
                           size_unit(max(c.model_bytes for c in cases)))
            for trend in TRENDS:
                if trend.metric and not any(trend.metric in c.quality for c in cases):
                    continue
                fig, failures = _draw(model, trend, series, units, config)
                if fig is None:
                    continue
                path = out / f"{slug(model)}-trend-{trend.suffix}.png"
                fig.savefig(path)
                caption = (f"Trend: {trend.title.split(' over ')[0]} over {max(len(r) for r in series.values())} "
                           f"runs per machine (dashed: the gate's limit against the previous run, "
                           f"{trend.rule(config)}; {failures} beyond it)")
                written.append(Written(path, model, caption))
    return written, skipped


def _draw(model: str, trend: Trend, series: dict[Machine, list[Run]], units: _Units,
          config: GateConfig) -> tuple[Figure | None, int]:
    panels = []  # (machine, device or None, {mode: [value per run or None]}, runs)
    for machine, mine in series.items():
        cases = [c for r in mine for c in r.cases.values() if c.model == model]
        devices = order({c.device for c in cases}, DEVICES) if trend.per_device else [None]
        for device in devices:
            lines = {}
            for mode in order({c.mode for c in cases}, MODES):
                points = [_value(trend, run, model, mode, device, units) for run in mine]
                if sum(p is not None for p in points) >= 2:
                    lines[mode] = points
            if lines:
                panels.append((machine, device, lines, mine))
    if not panels:
        return None, 0
    fig = Figure(figsize=(8.5, 1.0 + 2.3 * len(panels)), layout="constrained")
    fig.suptitle(f"{model}: {trend.title}", x=0.01, ha="left")  # clear of the legend at the right
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    modes = order({m for _, _, lines, _ in panels for m in lines}, MODES)
    failures = 0
    ylabel = trend.ylabel.format(time=units.time[0], size=units.size[0])
    for ax, (machine, device, lines, mine) in zip(axes, panels):
        x = np.arange(len(mine))
        for mode, points in lines.items():
            color = _color(mode, MODE_COLORS, modes)
            y = np.array([np.nan if p is None else p[0] for p in points], dtype=float)
            ax.plot(x, y, marker=MODE_MARKERS.get(mode, "o"), ms=4, lw=1.2, color=color, label=mode)
            for i in range(1, len(points)):
                prev, cur = points[i - 1], points[i]
                if prev is None or cur is None or prev[1] != cur[1]:  # nothing the gate would compare
                    continue
                limit = trend.limit(prev[0], config)
                ax.hlines(limit, i - 0.3, i + 0.3, colors=color, linestyles="--", lw=0.9)
                if (cur[0] > limit) if trend.worse == "up" else (cur[0] < limit):
                    failures += 1
                    ax.scatter([i], [cur[0]], s=90, facecolors="none", edgecolors=FAIL_COLOR, lw=1.5, zorder=4)
        step = max(1, int(np.ceil(len(mine) / MAX_TICK_LABELS)))
        ax.set_xticks(x[::step], [_tick(r) for r in mine[::step]], fontsize=7)
        ax.set_xlim(-0.5, len(mine) - 0.5)
        ax.set_title(machine.label + (f" - {device}" if device else ""), loc="left")
        wide = not trend.metric and _log_if_wide(ax, [p[0] for points in lines.values() for p in points if p])
        ax.set_ylabel(ylabel + ("\n(log scale)" if wide else ""))
    fig.supxlabel("run (commit, date UTC), oldest first")
    keys = [Line2D([], [], color=_color(m, MODE_COLORS, modes), marker=MODE_MARKERS.get(m, "o"), ms=4) for m in modes]
    keys += [Line2D([], [], color="#555555", ls="--", lw=0.9),
             Line2D([], [], ls="", marker="o", ms=9, markerfacecolor="none", markeredgecolor=FAIL_COLOR)]
    fig.legend(keys, [*modes, "gate limit vs previous", "beyond the limit"], loc="outside right upper")
    return fig, failures


def _value(trend: Trend, run: Run, model: str, mode: str, device: str | None, units: _Units) -> tuple | None:
    """(value, basis) of one run's point; per machine only (device None): the median over its devices."""
    cases = [c for c in run.cases.values() if c.model == model and c.mode == mode and device in (None, c.device)]
    points = [(v, trend.basis(c)) for c in cases if (v := trend.value(run, c, units)) is not None]
    if not points:
        return None
    return median(v for v, _ in points), points[0][1]

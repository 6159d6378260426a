"""The report's PNG figures: one question per file, plain thesis style, units and "better" on every plot.

Built on ``matplotlib.figure.Figure`` instead of pyplot: no global figure state to leak or close, and
PNGs are drawn by Agg whatever backend the caller chose. Per-machine figures get one panel per machine
(modes on x, bars grouped by device), because raw speed differs by orders of magnitude between a PC and
an emulated arm64 board and must never share a bar group.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from statistics import median
from typing import Callable

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from qbench import mcu, tasks
from qbench.modes import REFERENCE_MODE
from qbench.report.load import Case, Run
from qbench.report.plotting import (
    MODE_COLORS,
    STYLE,
    Written,
    _bars,
    _color,
    _Data,
    _figure,
    _label_points,
    _legend,
    _scatter,
    _Skip,
    _zoom,
)
from qbench.report.tables import num
from qbench.tasks import all_metrics
from qbench.tasks.base import FigureSpec, Metric


def _size(data: _Data):
    unit, scale = data.size_unit
    fig, (ax,) = _figure(data, "model size per mode (lower is better)")
    modes = data.modes
    sizes = [median(c.model_bytes for c in data.cases if c.mode == m) / scale for m in modes]
    bars = ax.bar(modes, sizes, 0.6, color=[_color(m, MODE_COLORS, modes) for m in modes])
    ref = sizes[modes.index(REFERENCE_MODE)] if REFERENCE_MODE in modes else None
    ax.bar_label(bars, [num(s, 4) + (f"\n{s / ref:.2f}x" if ref else "") for s in sizes], fontsize=8, padding=2)
    ax.set_ylim(0, max(sizes) * 1.25)
    ax.set_ylabel(f"Model size ({unit})")
    ax.set_xlabel("Quantization mode")
    return fig


def _quality_vs_size(metric: Metric):
    def draw(data: _Data):
        unit, scale = data.size_unit
        fig, (ax,) = _figure(data, f"size vs {_name(metric)} (better: up and to the left)")
        modes = [m for m in data.modes if any(metric.key in c.quality for c in data.cases if c.mode == m)]
        if not modes:
            raise _Skip(f"no {metric.key}")
        points, every = [], []
        for m in modes:
            cases = [c for c in data.comparable if c.mode == m and metric.key in c.quality]
            if not cases:
                continue
            q = [metric.shown(c.quality[metric.key]) for c in cases]
            size = median(c.model_bytes for c in cases) / scale
            mid = median(q)
            ax.errorbar(size, mid, yerr=[[mid - min(q)], [max(q) - mid]], fmt="o", ms=6, capsize=3,
                        color=_color(m, MODE_COLORS, modes), label=m, zorder=3)
            points.append((size, mid, m))
            every += q
        _zoom(ax, every, metric.percent)
        ax.set_xlim(left=0)
        _label_points(ax, points)
        ax.set_xlabel(f"Model size ({unit})")
        ax.set_ylabel(metric.label + "\n(median over devices and machines; bar: min-max)")
        if data.pooled_note:
            ax.set_title(data.pooled_note, loc="left", fontsize=8)
        ax.grid(True, axis="both")
        _legend(fig, [ax], "mode")
        return fig

    return draw


def _quality_vs_latency(metric: Metric):
    return lambda d: _scatter(d, f"latency vs {_name(metric)} (better: up and to the left)",
                              f"Median latency ({d.time_unit[0]})", metric.label,
                              lambda c: d.latency(c.latency_median_s), _value(metric), zoom=True,
                              percent=metric.percent)


def _quality_bars(metric: Metric):
    return lambda d: _bars(d, f"{_name(metric)} per mode (higher is better)", metric.label, _value(metric),
                           zoom=True, percent=metric.percent)


def _name(metric: Metric) -> str:
    return metric.label.split(" (")[0]


def _per_class_iou(data: _Data):
    cases = data.comparable
    classes = list(dict.fromkeys(k for c in cases for k in c.per_class_iou))
    if not classes:
        raise _Skip("the runs have no per_class_iou")
    modes = [m for m in data.modes if any(c.per_class_iou for c in cases if c.mode == m)]
    grid = np.full((len(modes), len(classes)), np.nan)
    for i, m in enumerate(modes):
        for j, k in enumerate(classes):
            values = [v for c in cases if c.mode == m and (v := c.per_class_iou.get(k)) is not None]
            if values:
                grid[i, j] = float(np.mean(values))
    fig = Figure(figsize=(max(8.5, 0.5 * len(classes) + 2.5), 1.6 + 0.45 * len(modes)), layout="constrained")
    fig.suptitle(f"{data.model}: IoU per class and mode (higher is better; mean over devices and machines)")
    ax = fig.subplots()
    if data.pooled_note:
        ax.set_title(data.pooled_note, loc="left", fontsize=8)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, "n/a" if math.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                color="black" if math.isnan(v) or v > 0.6 else "white")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(modes)), modes)
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="IoU (0-1)")
    return fig


def _footprint(data: _Data):
    """Arena (RAM) against flash per mode, log-log, with each MCU class as the box a mode must lie in to fit."""
    from qbench.report.recommend import within_budget

    measured = [(c, fp) for c in data.cases if (fp := mcu.footprint(c.info)) is not None]
    if not measured:
        raise _Skip("no result records a footprint (run the tflm device)")
    fig, (ax,) = _figure(data, "tensor arena and flash per mode vs MCU classes (a mode fits inside a box)")
    modes = [m for m in data.modes if any(c.mode == m for c, _ in measured)]
    points = []
    for m in modes:
        here = [(c, fp) for c, fp in measured if c.mode == m]
        arena, flash = median(fp["arena_bytes"] for _, fp in here), median(fp["flash_bytes"] for _, fp in here)
        met = any(within_budget(c) for c, _ in here)
        color = _color(m, MODE_COLORS, modes)
        ax.scatter(flash / mcu.KB, arena / mcu.KB, s=40, zorder=3, label=m + ("" if met else " (over budget)"),
                   color=color if met else "white", edgecolors=color, linewidths=1.5)
        points.append((flash / mcu.KB, arena / mcu.KB, m))
    for k, cls in enumerate(mcu.MCU_CLASSES):
        shade = matplotlib.colormaps["Greys"](0.25 + 0.15 * k)
        ax.add_patch(Rectangle((1e-3, 1e-3), cls.flash_bytes / mcu.KB, cls.ram_bytes / mcu.KB,
                                                  fill=False, edgecolor=shade, linewidth=1.2, zorder=1))
        ax.annotate(f"{cls.name}\n{cls.memory()}", (cls.flash_bytes / mcu.KB, cls.ram_bytes / mcu.KB), fontsize=6.5,
                    ha="right", va="top", color="#444", xytext=(-3, -3), textcoords="offset points")
        if cls.psram_bytes:
            ax.axhline(cls.sram_bytes / mcu.KB, color=shade, linestyle=":", linewidth=1, zorder=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    xs = [p[0] for p in points] + [c.flash_bytes / mcu.KB for c in mcu.MCU_CLASSES]
    ys = [p[1] for p in points] + [c.ram_bytes / mcu.KB for c in mcu.MCU_CLASSES]
    ax.set_xlim(min(xs) / 2, max(xs) * 1.6)
    ax.set_ylim(min(ys) / 2, max(ys) * 1.6)
    _label_points(ax, points)
    ax.set_xlabel("Flash: model file (KB, log)")
    ax.set_ylabel("RAM: tensor arena (KB, log)")
    ax.set_title("TFLM on the host; model only (the firmware and TFLM's code need room besides); "
                 "hollow: over the quality budget", loc="left", fontsize=8)
    ax.grid(True, axis="both", which="major")
    _legend(fig, [ax], "mode")
    return fig


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1e3 * seconds


def _size_of(data: _Data) -> Callable[[Case], float]:
    return lambda c: c.model_bytes / data.size_unit[1]


def _value(metric: Metric) -> Callable[[Case], float | None]:
    return lambda c: metric.shown(c.quality[metric.key]) if metric.key in c.quality else None


# Figures every model gets: (file suffix, caption, draw). Each task adds its quality figures (Task.figures).
GENERIC: list[tuple[str, str, Callable[[_Data], Figure]]] = [
    ("size", "Model size per mode", _size),
    ("latency", "Median latency per invoke (whisker: p90), per machine and device",
     lambda d: _bars(d, "latency per invoke (lower is better)", f"Median latency ({d.time_unit[0]})",
                     lambda c: d.latency(c.latency_median_s), whisker=lambda c: d.latency(c.latency_p90_s))),
    ("fps", "Throughput (1 / median latency), per machine and device",
     lambda d: _bars(d, "throughput (higher is better)", "Frames per second (1/s)", lambda c: c.fps)),
    ("speedup", "Speedup over float32 on the same device and machine",
     lambda d: _bars(d, "speedup over float32 on the same device (higher is better)", "Speedup (x float32)",
                     d.speedup, ref=1.0)),
    ("startup", "Start-up: load + allocate (solid) and first invoke (hatched)",
     lambda d: _bars(d, "start-up time (lower is better)", "Time (ms)\nsolid: load + allocate, hatched: 1st invoke",
                     lambda c: _ms(c.init_s),
                     stacked=lambda c: _ms(c.first_invoke_s))),
    ("tradeoff-size-fps", "Trade-off: model size vs throughput, per machine",
     lambda d: _scatter(d, "size vs throughput (better: up and to the left)", f"Model size ({d.size_unit[0]})",
                        "Frames per second (1/s)", _size_of(d), lambda c: c.fps)),
    ("mcu-footprint", "Microcontrollers: tensor arena and flash per mode against the MCU classes (qbench.mcu)",
     _footprint),
]
#: How a task's FigureSpec.kind is drawn.
KINDS: dict[str, Callable[[FigureSpec], Callable[[_Data], Figure]]] = {
    "bars": lambda spec: _quality_bars(all_metrics()[spec.metric]),
    "size_tradeoff": lambda spec: _quality_vs_size(all_metrics()[spec.metric]),
    "latency_tradeoff": lambda spec: _quality_vs_latency(all_metrics()[spec.metric]),
    "per_class_iou": lambda spec: _per_class_iou,
}


def figures_for(task_id: str) -> list[tuple[str, str, Callable[[_Data], Figure]]]:
    """The generic figures, with the task's own quality figures after the size figure."""
    task = (tasks.get(task_id) if task_id in tasks.TASKS else None)
    own = [(f.suffix, f.caption, KINDS[f.kind](f)) for f in (task.figures if task else ())]
    return [GENERIC[0], *own, *GENERIC[1:]]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def render_figures(runs: list[Run], out: Path) -> tuple[list[Written], list[str]]:
    """Write every figure that the runs have data for; the second list says what was skipped and why."""
    written, skipped = [], []
    models = sorted({m for r in runs for m in r.models})
    with matplotlib.rc_context(STYLE):
        for model in models:
            per_run = [(r, [c for c in r.cases.values() if c.model == model]) for r in runs]
            data = _Data(model, [(r, cases) for r, cases in per_run if cases])
            for suffix, caption, draw in figures_for(data.cases[0].task):
                try:
                    fig = draw(data)
                except _Skip as why:
                    skipped.append(f"{model}: {caption} - skipped, {why}")
                    continue
                path = out / f"{slug(model)}-{suffix}.png"
                fig.savefig(path)
                written.append(Written(path, model, caption))
    present = {c.task for r in runs for c in r.cases.values()}
    for task in tasks.TASKS.values():
        if task.id not in present:
            names = "; ".join(f.caption for f in task.figures)
            skipped.append(f"No {task.id} model in these runs, so these figures were skipped: {names}.")
    return written, skipped

"""Drawing the report's figures: the style, colours and markers, the data a figure reads, and the bar, scatter and
legend primitives (``figures.py`` says which figure shows what)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from qbench.modes import MODES
from qbench.report.load import Case, Run, order
from qbench.report.tables import size_unit, time_unit
from qbench.runtime import DEVICES


STYLE = {
    "font.size": 9, "axes.titlesize": 9, "figure.titlesize": 11, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "axes.grid.axis": "y", "grid.alpha": 0.35,
    "axes.axisbelow": True, "savefig.dpi": 130, "legend.frameon": False,
}
SPARE_COLORS = ("#009E73", "#CC79A7", "#F0E442", "#999999", "#000000")  # Okabe-Ito, for unknown ids
DEVICE_COLORS = {"xnnpack": "#0072B2", "xnnpack-mt": "#56B4E9", "builtin": "#E69F00", "reference": "#D55E00"}
MODE_COLORS = {"float32": "#555555", "dynamic": "#009E73", "float16": "#56B4E9", "int8": "#D55E00",
               "int8-float-io": "#E69F00", "int16x8": "#CC79A7"}
MODE_MARKERS = {"float32": "o", "dynamic": "s", "float16": "D", "int8": "^", "int8-float-io": "v", "int16x8": "P"}
SPARE_MARKERS = ("X", "*", "h", "p", "<", ">")


@dataclass(frozen=True)
class Written:
    path: Path
    model: str
    caption: str


class _Skip(Exception):
    """The runs lack the data this figure needs; the message says which."""


@dataclass(frozen=True)
class _Data:
    """One model's cases, per run, with the mode order shared by all its panels."""

    model: str
    per_run: list[tuple[Run, list[Case]]]

    @property
    def cases(self) -> list[Case]:
        return [c for _, cases in self.per_run for c in cases]

    @property
    def modes(self) -> list[str]:
        return order({c.mode for c in self.cases}, MODES)

    @property
    def size_unit(self) -> tuple[str, float]:
        return size_unit(max(c.model_bytes for c in self.cases))

    @property
    def time_unit(self) -> tuple[str, float]:
        return time_unit(max(c.latency_median_s for c in self.cases))

    def latency(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds * self.time_unit[1]

    @property
    def most_samples(self) -> int | None:
        return max((c.eval_samples for c in self.cases if c.eval_samples), default=None)

    @property
    def comparable(self) -> list[Case]:
        """The cases whose quality may be pooled across runs: those scored on the most evaluation samples.
        Quality on the first N samples (``--qbench-eval-limit``) is not comparable with the full set's;
        a case that does not say (a run from elsewhere) is kept."""
        return [c for c in self.cases if c.eval_samples in (None, self.most_samples)]

    @property
    def pooled_note(self) -> str:
        """What a pooled quality figure says about the evaluation sets behind it."""
        kept = {id(c) for c in self.comparable}
        left = sorted({run.label for run, cases in self.per_run if any(id(c) not in kept for c in cases)})
        note = f"{self.most_samples} eval samples" if self.most_samples else ""
        if left:
            note += f"; left out, scored on fewer: {', '.join(left)}"
        return textwrap.fill(note, 100)  # long machine labels must not run under the legend

    def run_title(self, run: Run) -> str:
        """A panel's run label, with its evaluation size when the runs were scored on different sets."""
        if len({c.eval_samples for c in self.cases if c.eval_samples}) < 2:
            return run.label
        samples = sorted({c.eval_samples for r, cases in self.per_run if r is run for c in cases if c.eval_samples})
        return f"{run.label} (quality on {'/'.join(map(str, samples))} samples)" if samples else run.label

    def speedup(self, case: Case) -> float | None:
        run = next(run for run, cases in self.per_run if any(c is case for c in cases))
        ratio = run.latency_ratio(case.key)
        return 1 / ratio if ratio else None


def _color(name: str, palette: dict[str, str], names: list[str]) -> str:
    return palette.get(name) or SPARE_COLORS[names.index(name) % len(SPARE_COLORS)]


def _figure(data: _Data, title: str, panels: int = 1) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(8.5, 0.9 + 2.7 * panels), layout="constrained")
    fig.suptitle(f"{data.model}: {title}")
    return fig, fig.subplots(panels, 1, squeeze=False)[:, 0]


def _log_if_wide(ax, values: list[float], axis: str = "y") -> bool:
    """Log scale when values span more than 20x, as reference kernels next to XNNPACK do."""
    positive = [v for v in values if v > 0]
    wide = bool(positive) and max(positive) / min(positive) > 20
    if wide:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    return wide


def _legend(fig: Figure, axes, title: str) -> None:
    handles = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), title=title, loc="outside right upper")


def _bars(data: _Data, title: str, ylabel: str, value: Callable[[Case], float | None],
          whisker: Callable[[Case], float | None] | None = None,
          stacked: Callable[[Case], float | None] | None = None, zoom: bool = False, ref: float | None = None,
          percent: bool = True):
    """Per machine panel: modes on x, one bar per device; optional p90 whisker or a hatched stacked part."""
    panels = [(run, [c for c in cases if value(c) is not None]) for run, cases in data.per_run]
    panels = [(run, cases) for run, cases in panels if cases]
    if not panels:
        raise _Skip("no run has this value")
    every = [value(c) for _, cases in panels for c in cases]
    fig, axes = _figure(data, title, len(panels))
    modes = data.modes
    for ax, (run, cases) in zip(axes, panels):
        devices = order({c.device for c in cases}, DEVICES)
        width = 0.8 / len(devices)
        for i, device in enumerate(devices):
            mine = [c for c in cases if c.device == device]
            x = np.array([modes.index(c.mode) for c in mine]) + (i - (len(devices) - 1) / 2) * width
            y = np.array([value(c) for c in mine])
            color = _color(device, DEVICE_COLORS, list(DEVICES) + devices)
            ax.bar(x, y, width, color=color, label=device)
            if whisker:
                top = np.array([whisker(c) if whisker(c) is not None else v for c, v in zip(mine, y)])
                ax.errorbar(x, y, yerr=[np.zeros_like(y), top - y], fmt="none", ecolor="#333333", lw=0.8, capsize=2)
            if stacked:
                extra = np.array([stacked(c) or 0.0 for c in mine])
                ax.bar(x, extra, width, bottom=y, color=color, alpha=0.45, hatch="///", edgecolor="white", lw=0)
        ax.set_xticks(range(len(modes)), modes)
        ax.set_title(data.run_title(run), loc="left")
        if ref is not None:
            ax.axhline(ref, color="#333333", lw=0.8, ls="--")
        notes = []
        # Each machine gets its own y scale; a log scale would hide the lower part of stacked bars.
        if not stacked and _log_if_wide(ax, [value(c) for c in cases]):
            notes.append("log scale")
        if zoom:  # the same range on every panel, so machines compare at a glance
            _zoom(ax, every, percent)
            notes.append("axis zoomed")
        ax.set_ylabel(ylabel + (f"\n({', '.join(notes)})" if notes else ""))
    fig.supxlabel("Quantization mode")
    _legend(fig, axes, "device")
    return fig


def _zoom(ax, values: list[float], percent: bool = True) -> None:
    """Quality axes show at least half a point, so a difference of 0.03 % does not look like a cliff."""
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.5)
    top = min(100.0, hi + 0.5 * span) if percent else hi + 0.5 * span
    ax.set_ylim(max(0.0, lo - span) if percent else lo - span, top)


def _scatter(data: _Data, title: str, xlabel: str, ylabel: str, x: Callable[[Case], float | None],
             y: Callable[[Case], float | None], zoom: bool = False, percent: bool = True):
    """Per machine panel: one point per mode x device; colour = device, marker and label = mode."""
    panels = [(run, [c for c in cases if x(c) is not None and y(c) is not None]) for run, cases in data.per_run]
    panels = [(run, cases) for run, cases in panels if cases]
    if not panels:
        raise _Skip("no run has both values")
    fig, axes = _figure(data, title, len(panels))
    modes, devices = data.modes, order({c.device for c in data.cases}, DEVICES)
    for ax, (run, cases) in zip(axes, panels):
        for c in cases:
            ax.scatter(x(c), y(c), s=30, marker=_marker(c.mode, modes), zorder=3,
                       color=_color(c.device, DEVICE_COLORS, list(DEVICES) + devices))
        x_log = _log_if_wide(ax, [x(c) for c in cases], "x")
        y_log = not zoom and _log_if_wide(ax, [y(c) for c in cases], "y")
        if zoom:
            _zoom(ax, [y(c) for _, cases in panels for c in cases], percent)
        _label_points(ax, [(x(c), y(c), c.mode) for c in cases])
        ax.set_xlabel(xlabel + (" (log scale)" if x_log else ""))
        ax.set_ylabel(ylabel + ("\n(log scale)" if y_log else ""))
        ax.grid(True, axis="both")
        ax.set_title(data.run_title(run), loc="left")
    device_keys = [Line2D([], [], ls="", marker="o", color=_color(d, DEVICE_COLORS, list(DEVICES) + devices))
                   for d in devices]
    mode_keys = [Line2D([], [], ls="", marker=_marker(m, modes), color="#555555") for m in modes]
    fig.legend(device_keys + mode_keys, devices + modes, loc="outside right upper")
    return fig


def _marker(mode: str, modes: list[str]) -> str:
    return MODE_MARKERS.get(mode) or SPARE_MARKERS[modes.index(mode) % len(SPARE_MARKERS)]


def _label_points(ax, points: list[tuple[float, float, str]], near_px: float = 20.0, size: float = 6.5) -> None:
    """Label clusters of nearby points once ("int8 / int8-float-io") and drop labels that would overlap
    one already placed: the marker shapes in the legend still name every point."""
    ax.autoscale_view()
    clusters: list[tuple[np.ndarray, list[str], tuple[float, float]]] = []
    for px, py, text in points:
        where = ax.transData.transform((px, py))
        for anchor, texts, _ in clusters:
            if np.hypot(*(where - anchor)) < near_px:
                if text not in texts:
                    texts.append(text)
                break
        else:
            clusters.append((where, [text], (px, py)))
    placed: list[tuple[float, float, float, float]] = []
    pt = ax.figure.dpi / 72  # display pixels per point
    for (x0, y0), texts, xy in clusters:
        label = " / ".join(texts)
        box = (x0 + 5 * pt, y0 + 3 * pt, x0 + (5 + 0.55 * size * len(label)) * pt, y0 + (3 + 1.2 * size) * pt)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        ax.annotate(label, xy, xytext=(5, 3), textcoords="offset points", fontsize=size, color="#333333")

"""The explanation figure: SNR per layer in network order, coloured by op type, every layer named on the axis.

Two series against float32 (higher is better): the error each layer *adds* (dots, coloured by op type; the ranking
the table and the budget search use) and the error *accumulated* at its output (grey line). Layers that compute
exactly what float32 does sit on a dotted line at the top marked "exact". The k worst layers are numbered; layers
a budget search kept at higher precision are named in colour.
Drawn with ``matplotlib.figure.Figure`` and Agg, as the report's figures are: no pyplot state.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Mapping

from matplotlib.figure import Figure

from qbench.repair.layers import Explanation, TOP_K
from qbench.metrics import SNR_CAP_DB

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000", "#999999")
STYLE = {"font.size": 8, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
         "axes.grid.axis": "y", "grid.alpha": 0.35, "axes.axisbelow": True, "savefig.dpi": 130,
         "legend.frameon": False}


def draw(table: Explanation, path: Path | IO[bytes], k: int = TOP_K,
         kept: Mapping[str, str] | None = None) -> Path | IO[bytes]:
    """``kept``: layers a budget search kept wider (output tensor name -> precision), named in colour on the axis."""
    import matplotlib

    layers = list(table.layers)
    finite = [v for l in layers for v in (l.snr_db, l.added_snr_db) if v is not None and v < SNR_CAP_DB]
    top = (max(finite) + 8.0) if finite else SNR_CAP_DB
    bottom = (min(finite) - 5.0) if finite else 0.0

    def shown(value: float) -> float:
        return top if value >= SNR_CAP_DB else value

    ops = list(dict.fromkeys(l.op for l in layers))
    colour = {op: PALETTE[i % len(PALETTE)] for i, op in enumerate(ops)}
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(min(40.0, max(8.0, 0.17 * len(layers) + 2.0)), 6.2), layout="constrained")
        ax = fig.add_subplot()
        x = range(len(layers))
        ax.plot(x, [shown(l.snr_db) for l in layers], color="#777777", lw=1.0, label="accumulated at the output")
        for op in ops:  # a layer without a float32 twin (custom op) has no added error to show
            at = [i for i, l in enumerate(layers) if l.op == op and l.added_snr_db is not None]
            ax.scatter(at, [shown(layers[i].added_snr_db) for i in at], s=22, color=colour[op], zorder=3,
                       label=f"added by a {op} layer")
        ax.axhline(top, color="#999999", lw=0.8, ls=":")
        ax.text(len(layers) - 0.5, top, " exact", va="center", ha="left", fontsize=7, color="#555555")
        for rank, layer in enumerate((l for l in table.worst(k) if l.added_snr_db is not None), 1):
            ax.annotate(str(rank), (layer.position, shown(layer.added_snr_db)), xytext=(0, -11),
                        textcoords="offset points", ha="center", fontsize=7, fontweight="bold")
        kept = kept or {}
        ax.set_xticks(list(x), [f"{l.label} [kept {kept[l.tensor]}]" if l.tensor in kept else l.label for l in layers],
                      rotation=90, fontsize=6)
        for tick, layer in zip(ax.get_xticklabels(), layers):
            if layer.tensor in kept:
                tick.set_color("#D55E00")
                tick.set_fontweight("bold")
        ax.set_xlim(-0.7, len(layers) - 0.3)
        ax.set_ylim(bottom, top + 3.0)
        ax.set_ylabel("SNR vs float32 (dB, higher is better)")
        fig.suptitle(f"{table.model} {table.mode}: per-layer error against float32, first {table.samples} "
                     f"evaluation samples on {table.device} (numbers: the {k} layers adding the most error)")
        fig.legend(loc="outside lower center", fontsize=7, ncol=min(5, len(ops) + 1))
        fig.savefig(path, format="png")
    return path

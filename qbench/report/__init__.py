"""``qbench report``: tables, figures and an index page from saved runs of one or more machines.

Reads pytest-benchmark JSON files that carry qbench's extra_info (see ``load.py``), or runs from a results
store (``qbench.store``), and writes tables.md, one PNG per figure and index.html into one directory;
several runs of one machine add trend figures (``trends.py``). It opens with the recommendation per model, machine
and device (``recommend.py``) and lists the ``qbench explain`` outputs found in the folder (``explanations.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qbench.errors import QbenchError
from qbench.report.explanations import find as find_explanations
from qbench.sources import load_runs
from qbench.report.mcu import fits_table, footprint_table
from qbench.report.recommend import recommendation_table, replicability_table
from qbench.report.tables import model_table, runs_table, to_markdown, twin_table

if TYPE_CHECKING:
    from qbench.gate import GateConfig  # gate imports this package: no import at run time


@dataclass(frozen=True)
class ReportResult:
    out: Path
    markdown: str  # what tables.md holds; the CLI prints it
    tables: Path
    index: Path
    figures: list[Path]
    skipped: list[str]  # figures not drawn, and why


def write_report(sources: list[str | Path], out: Path, gate_config: "GateConfig | None" = None) -> ReportResult:
    """``sources``: run files, folders and stores (see ``load_runs``); ``gate_config`` sets the limits the trend
    figures draw (default: the gate's defaults)."""
    # matplotlib is imported here, not at package import: ``qbench gate`` reads runs through this package.
    from qbench.report.figures import render_figures
    from qbench.report.html import render_index
    from qbench.report.trends import render_trends

    runs = load_runs(sources)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QbenchError(f"cannot create the report directory {out}: {e}", "choose another --out directory") from None
    models = sorted({m for r in runs for m in r.models})
    advice, overview, tables = recommendation_table(runs), runs_table(runs), [model_table(m, runs) for m in models]
    written, skipped = render_figures(runs, out)
    trends, not_drawn = render_trends(runs, out, gate_config)
    written, skipped = written + trends, skipped + not_drawn
    explained = find_explanations(out)
    if explained:
        skipped += explained.skipped
    replicated = replicability_table(runs)
    mcu_tables = tuple(t for t in (fits_table(runs), footprint_table(runs)) if t is not None)
    twins = twin_table(runs)  # quantization-aware modes beside their post-training twins, when a run has both
    markdown = to_markdown([advice, *mcu_tables, *([replicated] if replicated else []), overview, *tables,
                            *([twins] if twins else []), *([explained.table] if explained else [])])
    (out / "tables.md").write_text(markdown, encoding="utf-8")
    per_model = [(t, [w for w in written if w.model == m]) for m, t in zip(models, tables)] + ([(twins, [])] if twins else [])
    (out / "index.html").write_text(render_index(overview, per_model, skipped, advice, explained, replicated,
                                                      mcu_tables), encoding="utf-8")
    return ReportResult(out, markdown, out / "tables.md", out / "index.html", [w.path for w in written], skipped)


__all__ = ["ReportResult", "write_report"]

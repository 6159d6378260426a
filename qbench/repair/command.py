"""``qbench explain MODEL MODE``: the worst layers as a table, the full table as JSON, and the figure, beside the report.

Files go to ``OUT/explain/<model>-<mode>.{md,json,png}`` (OUT defaults to the report's folder), where
``qbench report --out OUT`` finds them and links them under "Explanations". For a ``+budget`` mode the table also
names the layers its search kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qbench.cache import atomic_file, write_json_atomic
from qbench.errors import QbenchError
from qbench.repair.layers import Explanation, Layer, TOP_K, snr_text
from qbench.report.tables import markdown_table

if TYPE_CHECKING:
    from qbench.repair.explainer import Explainer

FOLDER = "explain"


@dataclass(frozen=True)
class Written:
    markdown: str  # what the .md holds (the CLI prints it)
    table: Path
    data: Path
    figure: Path


def stem(model_id: str, mode_id: str) -> str:
    return f"{model_id}-{mode_id}".replace("/", "_")


def to_markdown(table: Explanation, k: int = TOP_K, kept: dict | None = None) -> str:
    worst = table.worst(k)
    headers = ["Rank", "Position", "Op", "Layer", "Precision", "Added SNR (dB)", "Output SNR (dB)"]
    rows = [[str(r), f"{l.position + 1}/{len(table.layers)}", l.op, l.label, l.precision, snr_text(l.added_snr_db),
             snr_text(l.snr_db)] for r, l in enumerate(worst, 1)]
    summary = table.summary()
    lines = [
        f"# {table.model} {table.mode}: the {len(worst)} layers adding the most error",
        "",
        f"Against float32 on the first {table.samples} evaluation samples, {table.device} kernels. "
        f"{summary['layers']} layers compared, {summary['quantized_layers']} of them quantized; model output SNR "
        f"{snr_text(table.output_snr_db)} dB. *Added* = this layer's output against the float32 layer on the same input "
        f"(the error it adds); *output* = against the float32 model (the error accumulated up to here).",
        "",
        markdown_table(headers, rows),
        "",
    ]
    if kept:
        lines += [f"Kept at higher precision by the budget search ({len(kept)}): "
                  + ", ".join(f"{_label(table, t)} ({p})" for t, p in kept.items()), ""]
    if table.unmatched:
        lines += [f"Ops without a float32 counterpart (inserted by the mode): {len(table.unmatched)}.", ""]
    return "\n".join(lines)


def _label(table: Explanation, tensor: str) -> str:
    found: Layer | None = next((l for l in table.layers if l.tensor == tensor), None)
    return found.label if found else tensor


def write(explainer: Explainer, kept: dict[str, str] | None, model_id: str, mode_id: str, out: Path, device: str,
          samples: int, k: int = TOP_K) -> Written:
    """``qbench explain``'s files; ``kept``: the layers a +budget artifact kept wider (its manifest's)."""
    from qbench.repair.figure import draw

    table = explainer.explanation(model_id, mode_id, device, samples)
    folder = Path(out) / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QbenchError(f"cannot create {folder}: {exc.strerror or exc}", "choose another --out folder") from None
    markdown = to_markdown(table, k, kept)
    name = stem(model_id, mode_id)
    paths = folder / f"{name}.md", folder / f"{name}.json", folder / f"{name}.png"
    with atomic_file(paths[0]) as f:
        f.write(markdown)
    write_json_atomic(paths[1], {**table.to_dict(), "kept_layers": kept or {}, "top_k": k})
    with atomic_file(paths[2], "wb") as f:
        draw(table, f, k, kept)
    return Written(markdown, *paths)


def read_saved(path: Path) -> tuple[Explanation, dict]:
    """A saved explanation (``OUT/explain/*.json``) and its extra fields, for the report."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Explanation.from_dict(data), {"kept_layers": data.get("kept_layers") or {}, "top_k": data.get("top_k", TOP_K)}

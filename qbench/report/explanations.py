"""The report's "Explanations" section: the per-layer explanations ``qbench explain`` wrote beside it.

``qbench explain MODEL MODE --out OUT`` leaves ``OUT/explain/<model>-<mode>.{md,json,png}``; ``qbench report --out
OUT`` lists every one it finds there (model, mode, the worst layer, the model's output SNR, the layers a budget search
kept) and links the table and the figure. A file that is not a readable explanation is named and skipped, never fatal:
the benchmark tables do not depend on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qbench.repair.layers import Explanation, snr_text
from qbench.report.tables import Table

FOLDER = "explain"


@dataclass(frozen=True)
class Found:
    table: Table
    figures: list[tuple[str, str]]  # (path relative to the report folder, caption)
    skipped: list[str]




def find(out: Path) -> Found | None:
    folder = Path(out) / FOLDER
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        return None
    rows, figures, skipped = [], [], []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            table = Explanation.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            skipped.append(f"{path}: not a qbench explanation ({exc.__class__.__name__})")
            continue
        worst = table.ranked()[0] if table.layers else None
        kept = data.get("kept_layers") or {}
        labels = {l.tensor: l.label for l in table.layers}
        rows.append([
            table.model, table.mode,
            f"{worst.label} ({worst.op}, {worst.precision}): {snr_text(worst.added_snr_db)} dB added" if worst else "-",
            snr_text(table.output_snr_db), f"{table.samples} on {table.device}",
            ", ".join(f"{labels.get(t, t)} ({p})" for t, p in kept.items()) or "-",
            f"{FOLDER}/{path.stem}.md, {FOLDER}/{path.stem}.png",
        ])
        if (png := path.with_suffix(".png")).is_file():
            figures.append((f"{FOLDER}/{png.name}", f"{table.model} {table.mode}: SNR per layer against float32"))
    table = Table("Explanations (qbench explain)", ["Model", "Mode", "Layer adding the most error", "Output SNR (dB)",
                                                    "Samples", "Kept by the budget search", "Files"], rows,
                  "Per-layer error against float32 (README: Explain); the .md beside each lists the worst layers.")
    return Found(table, figures, skipped)

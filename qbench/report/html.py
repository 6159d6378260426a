"""index.html: the report's tables and figures on one page that survives being copied or zipped.

Self-contained on purpose: inline CSS, no scripts, images by relative path next to it. Every piece of
text comes from run files (model ids, host names) and is escaped.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from qbench.report.plotting import Written
from qbench.report.tables import Table

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } td:nth-child(-n+3) { text-align: left; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; } .note { color: #555; font-size: 0.9em; }
"""


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = "\n".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n{note}"


def _figure(f: Written) -> str:
    src = escape(quote(f.path.name), quote=True)
    return (f'<figure><img src="{src}" alt="{escape(f.caption, quote=True)}">'
            f"<figcaption>{escape(f.caption)} ({escape(f.path.name)})</figcaption></figure>")


def render_index(runs: Table, models: list[tuple[Table, list[Written]]], skipped: list[str],
                 advice: Table | None = None, explained=None, replicated: Table | None = None,
                 answers: tuple[Table, ...] = ()) -> str:
    """``advice``: the recommendation table (first); ``answers``: more verdict tables after it (the MCU fits);
    ``explained``: ``explanations.Found`` (last), or None."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>qbench report</title>", f"<style>{CSS}</style></head><body>", "<h1>qbench report</h1>"]
    if advice is not None:
        parts += [f"<h2>{escape(advice.title)}</h2>", _table(advice)]
    for table in answers:
        parts += [f"<h2>{escape(table.title)}</h2>", _table(table)]
    if replicated is not None:
        parts += [f"<h2>{escape(replicated.title)}</h2>", _table(replicated)]
    parts += ["<h2>Runs</h2>", _table(runs)]
    if skipped:
        items = "".join(f"<li>{escape(s)}</li>" for s in skipped)
        parts.append(f'<h2>Figures not drawn</h2><ul class="note">{items}</ul>')
    for table, figures in models:
        parts += [f"<h2>{escape(table.title)}</h2>", _table(table), *map(_figure, figures)]
    if explained is not None:
        parts += [f"<h2>{escape(explained.table.title)}</h2>", _table(explained.table)]
        parts += [f'<figure><a href="{escape(quote(src), quote=True)}"><img src="{escape(quote(src), quote=True)}" '
                  f'alt="{escape(caption, quote=True)}"></a><figcaption>{escape(caption)} ({escape(src)})</figcaption>'
                  "</figure>" for src, caption in explained.figures]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

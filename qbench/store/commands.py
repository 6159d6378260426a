"""``qbench store import | list | export``: the store from the command line (parsers live in ``qbench/cli.py``)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from qbench.cache import write_json_atomic
from qbench.errors import QbenchError
from qbench.report.load import expand
from qbench.report.tables import markdown_table
from qbench.store.api import import_files, open_store


def import_runs(args: argparse.Namespace) -> int:
    store, results = import_files(expand(args.runs), args.store)
    if store.schema_change:
        print(f"store {store.name}: {store.schema_change}")
    for r in results:
        print(f"{'stored' if r.created else 'already stored'}  {r.run_hash[:12]}  {r.source}")
    new = sum(r.created for r in results)
    print(f"{new} run(s) stored, {len(results) - new} already there, in {store.name}")
    return 0


def list_runs(args: argparse.Namespace) -> int:
    store, selector = open_store(args.store, create=False)
    with store:
        chosen = store.chosen(selector) if selector.text else store.select(selector)
    rows = [[h.run_hash[:12], (h.datetime or "")[:19].replace("T", " "), h.machine.label, h.machine.node,
             (h.commit_id or "-")[:7] + ("+" if h.commit_dirty else ""), str(h.cases), h.source] for h in chosen]
    print(markdown_table(["Run", "Date (UTC)", "Machine", "Host", "Commit", "Cases", "Source"], rows))
    print(f"{len(chosen)} run(s) in {store.name}" + (f" matching {selector.text}" if selector.text else ""))
    return 0


def export_runs(args: argparse.Namespace) -> int:
    """The selected runs as the pytest-benchmark documents they were imported from (pytest-benchmark compare)."""
    store, selector = open_store(args.store, create=False)
    with store:
        chosen = store.chosen(selector)
        docs = store.documents(chosen)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QbenchError(f"cannot create {args.out}: {e}", "choose another --out folder") from None
    for header, doc in zip(chosen, docs):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(header.source).stem).strip("._") or "run"
        path = args.out / f"{stem}-{header.run_hash[:12]}.json"
        write_json_atomic(path, doc)
        print(path)
    return 0


ACTIONS = {"import": import_runs, "list": list_runs, "export": export_runs}

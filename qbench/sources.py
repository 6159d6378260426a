"""Where saved runs come from: run files, folders of them, and results stores named by URL.

``qbench report``, ``gate`` and ``consistency`` take any of them wherever they take a run. File parsing lives in
``qbench.report.load`` and stores in ``qbench.store``; this module only dispatches between the two, so that neither
imports the other's reader (the store imports ``report.load`` to parse the documents it keeps).
"""

from __future__ import annotations

from pathlib import Path

from qbench.report.load import Run, expand, parse_run, read_document


def load_runs(sources: list[str | Path]) -> list[Run]:
    """Runs from files, folders of files and stores (``qbench.store.url``), in the order given; a store's
    runs come out oldest first."""
    runs = []
    for source in sources:
        if _is_store(source):
            from qbench.store.api import load_selected

            runs += load_selected(str(source))
        else:
            runs += [load_run(p) for p in expand([Path(source)])]
    _unique_labels(runs)
    return runs


def _is_store(source: str | Path) -> bool:
    from qbench.store.url import is_store_source  # SQLAlchemy is imported only when a store is named

    return is_store_source(source)


def _unique_labels(runs: list[Run]) -> None:
    """Two machines with the same CPU are told apart by host name, two runs of one host by file name."""
    for extra in (lambda r: r.machine.node, lambda r: r.path.stem):
        labels = [r.label for r in runs]
        for run in runs:
            if labels.count(run.label) > 1 and extra(run):
                run.label = f"{run.label} [{extra(run)}]"


def load_run(source: str | Path) -> Run:
    """One run: a run file, or a store with a selector that picks exactly one run."""
    if _is_store(source):
        from qbench.store.api import load_one

        return load_one(str(source))
    return parse_run(read_document(Path(source)), Path(source))

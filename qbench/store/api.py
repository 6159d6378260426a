"""The store's entry points: open a store, import runs, read the runs a selector names (see the package doc)."""

from __future__ import annotations

from pathlib import Path

from qbench.errors import QbenchError
from qbench.report.load import Run, parse_run
from qbench.store.db import make_engine, transaction
from qbench.store.ingest import Ingested, Prepared, prepare, prepare_file, write
from qbench.store.migrate import ensure_schema
from qbench.store.query import Selector, StoredRun, documents, headers
from qbench.store.url import StoreSource, parse


class Store:
    """An open store. ``create``: a missing SQLite file or an empty database becomes a new store."""

    def __init__(self, source: StoreSource, *, create: bool):
        self.source = source
        path = source.sqlite_path
        if path is not None:
            if not create and not path.is_file():
                raise QbenchError(f"no store at {path}", "import runs first: qbench store import RUN.json "
                                  f"--store {path} (or pytest --qbench-store {path})")
            if create:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise QbenchError(f"cannot create the folder of the store {path}: {e}",
                                      "choose a store path in a writable folder") from None
        self.engine = make_engine(source)
        try:
            self.schema_change = ensure_schema(self.engine, self.name, create=create)
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def name(self) -> str:
        return self.source.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ingest(self, batch: list[Prepared]) -> list[Ingested]:
        """Write every prepared run in one transaction: all of them or, on an error, none."""
        return transaction(self.engine, lambda conn: write(conn, batch), write=True, what="write to", name=self.name)

    def select(self, selector: Selector | None = None) -> list[StoredRun]:
        selector = selector or Selector()
        found = transaction(self.engine, headers, write=False, what="read", name=self.name)
        return selector.apply(found, self.name)

    def documents(self, chosen: list[StoredRun]) -> list[dict]:
        return transaction(self.engine, lambda conn: documents(conn, chosen, self.name), write=False, what="read",
                           name=self.name)

    def chosen(self, selector: Selector) -> list[StoredRun]:
        """The runs ``selector`` picks, or the error that says none does."""
        chosen = self.select(selector)
        if not chosen:
            total = len(self.select())
            raise QbenchError(
                f"no run in {self.name} matches {selector.text or 'the selection'} (the store holds {total} run(s))",
                f"`qbench store list {self.name}` shows the stored runs with their machines and commits",
            )
        return chosen

    def runs(self, chosen: list[StoredRun]) -> list[Run]:
        return [parse_run(doc, Path(h.source)) for h, doc in zip(chosen, self.documents(chosen))]


def open_store(text: str | Path, *, create: bool, where: str = "store") -> tuple[Store, Selector]:
    source = parse(text, where=where)
    selector = Selector.parse(source.selector, source.name)
    return Store(source, create=create), selector


def load_selected(text: str) -> list[Run]:
    """The runs a ``STORE?selector`` string names, oldest first."""
    store, selector = open_store(text, create=False)
    with store:
        return store.runs(store.chosen(selector))


def load_one(text: str) -> Run:
    """The one run a ``STORE?selector`` string names (gate, consistency)."""
    store, selector = open_store(text, create=False)
    with store:
        chosen = store.chosen(selector)
        if len(chosen) > 1:
            listing = "; ".join(f"{h.run_hash[:12]} {h.machine.label} {h.datetime or ''}" for h in chosen[-3:])
            raise QbenchError(
                f"{store.name}?{selector.text} selects {len(chosen)} runs where one is needed (latest: {listing})",
                "narrow the selector to one run, e.g. add &latest=1 (the most recent) or &run=HASH",
            )
        return store.runs(chosen)[0]


def import_files(paths: list[Path], store_text: str | Path) -> tuple[Store, list[Ingested]]:
    """Check every file, then store them all in one transaction."""
    if not paths:
        raise QbenchError("no run files given", "pass one or more RUN.json files saved by pytest-benchmark")
    batch = [prepare_file(p) for p in paths]  # before opening: a bad file must not even create the store
    store, selector = open_store(store_text, create=True)
    if selector.text:
        store.close()
        raise QbenchError(f"a selector ({selector.text}) makes no sense when importing", "name the store alone")
    with store:
        return store, store.ingest(batch)


def store_document(doc: dict, source: str, store_text: str | Path) -> tuple[Store, Ingested]:
    """One document from a pytest session (``--qbench-store``)."""
    prepared = prepare(doc, source)
    store, _ = open_store(store_text, create=True)
    with store:
        return store, store.ingest([prepared])[0]

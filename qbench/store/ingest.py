"""Writing runs: every document checked before the first write, all of them in one transaction, each stored once.

A run's identity is the sha256 of its canonical document (``document.run_hash``), held unique by the
database: importing a file twice, or the same run from two files or two processes at once, stores it
once (``ON CONFLICT DO NOTHING`` on the hash, then the existing row is used). A file that is not a
qbench run -- unreadable, truncated, foreign -- fails with one ``QbenchError`` naming it before any
write, and the import of several files is all or nothing. Rows are inserted in hash order so that two
concurrent batches take their locks in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from qbench.report.load import Run, parse_run, read_document
from qbench.store import schema as t
from qbench.store.document import RunRows, run_hash, split
from qbench.store.query import machine_row


@dataclass(frozen=True)
class Prepared:
    """A document that passed every check, ready to be written."""

    source: str
    doc: dict
    run: Run
    rows: RunRows
    run_hash: str


@dataclass(frozen=True)
class Ingested:
    source: str
    run_hash: str
    run_id: int
    created: bool  # False: the store already held this run


def prepare(doc: dict, source: str) -> Prepared:
    """Check ``doc`` as the report does (a qbench run) and split it into rows; raises QbenchError naming ``source``."""
    run = parse_run(doc, Path(source))
    return Prepared(source, doc, run, split(doc, source), run_hash(doc))


def prepare_file(path: Path) -> Prepared:
    return prepare(read_document(Path(path)), str(path))


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def write(conn: Connection, batch: list[Prepared]) -> list[Ingested]:
    """Store ``batch`` inside the caller's transaction; results in the batch's order."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    machines = {}
    for item in sorted(batch, key=lambda p: tuple(machine_row(p.run.machine).values())):
        machines.setdefault(item.run.machine, _machine_id(conn, item.run.machine))
    done: dict[str, Ingested] = {}
    for item in sorted(batch, key=lambda p: p.run_hash):
        if item.run_hash not in done:
            done[item.run_hash] = _write_run(conn, item, machines[item.run.machine], now)
    results, seen = [], set()
    for p in batch:  # a run given twice is created by its first mention only
        stored = done[p.run_hash]
        results.append(Ingested(p.source, p.run_hash, stored.run_id, stored.created and p.run_hash not in seen))
        seen.add(p.run_hash)
    return results


def _machine_id(conn: Connection, machine) -> int:
    identity = machine_row(machine)
    conn.execute(_insert(conn, t.machines).values(**identity).on_conflict_do_nothing(index_elements=list(identity)))
    return conn.execute(select(t.machines.c.id).filter_by(**identity)).scalar_one()


def _write_run(conn: Connection, item: Prepared, machine_id: int, now: datetime) -> Ingested:
    existing = conn.execute(select(t.runs.c.id).where(t.runs.c.run_hash == item.run_hash)).scalar()
    if existing is not None:
        return Ingested(item.source, item.run_hash, existing, False)
    run_id = conn.execute(
        _insert(conn, t.runs)
        .values(run_hash=item.run_hash, machine_id=machine_id, source=item.source, imported_at=now, **item.rows.run)
        .on_conflict_do_nothing(index_elements=["run_hash"])
        .returning(t.runs.c.id)
    ).scalar()
    if run_id is None:  # another writer stored the same run between our check and our insert
        run_id = conn.execute(select(t.runs.c.id).where(t.runs.c.run_hash == item.run_hash)).scalar_one()
        return Ingested(item.source, item.run_hash, run_id, False)
    if item.run.versions:
        conn.execute(t.versions.insert(), [{"run_id": run_id, "package": k, "version": v}
                                           for k, v in item.run.versions.items()])
    quality, class_iou, stats, samples = [], [], [], []
    for rows in item.rows.cases:
        case_id = conn.execute(t.cases.insert().values(run_id=run_id, **rows.case).returning(t.cases.c.id)).scalar_one()
        quality += [{"case_id": case_id, **q} for q in rows.quality]
        class_iou += [{"case_id": case_id, **c} for c in rows.class_iou]
        if rows.stats is not None:
            stats.append({"case_id": case_id, **rows.stats})
        samples += [{"case_id": case_id, "round": i, "seconds": s} for i, s in enumerate(rows.samples)]
    for table, values in ((t.quality, quality), (t.class_iou, class_iou), (t.stats, stats)):
        if values:
            conn.execute(table.insert(), values)  # executemany: batched multi-row INSERTs
    if samples:
        _write_samples(conn, samples)
    return Ingested(item.source, item.run_hash, run_id, True)


def _write_samples(conn: Connection, rows: list[dict]) -> None:
    """A fast MNIST run saves ~150,000 raw times: PostgreSQL takes them by COPY (~20x faster than INSERTs),
    in the same transaction; SQLite's executemany is fast already."""
    if conn.dialect.name != "postgresql":
        conn.execute(t.samples.insert(), rows)
        return
    columns = ("case_id", "round", "seconds")
    with conn.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY {t.samples.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))

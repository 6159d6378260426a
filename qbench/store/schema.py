"""The store's tables: one row per machine, run, case, quality metric, class IoU, stats record and raw sample.

Each fact of a pytest-benchmark document lives in exactly one place: a typed column when SQL should be
able to filter or aggregate on it (machine, commit, time, model x mode x device, quality, latency), or
the ``*_rest`` JSON of its level when it is free-form (``backend``, ``options``, output digests' sample,
anything a later qbench adds). ``document.py`` splits a document into these rows and joins them back;
the run's content hash proves the join is exact. ``machines`` and ``versions`` are the exception: they
are *derived* from the document (by ``qbench.report.load``'s fallbacks) so runs can be selected by
machine and version, while ``runs.machine_info`` keeps pytest-benchmark's own record whole.

Timestamps derived for ordering and range selection (``started_at``, ``committed_at``, ``imported_at``)
are naive UTC: SQLite has no time zone type, and the same rule on both databases keeps queries portable.
JSON is kept as text written by Python's ``json`` (see ``JSONText``), not as the databases' JSON types.

Revision 1 of ``migrations/`` creates exactly this; ``tests/fast/test_store.py`` checks the two agree.
"""

from __future__ import annotations

import json

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Integer, MetaData, String, Table,
                        Text, UniqueConstraint)
from sqlalchemy.types import TypeDecorator

VERSION_TABLE = "qbench_alembic_version"  # not alembic's default name: a shared database may hold other apps'

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class JSONText(TypeDecorator):
    """A JSON value stored as text, exactly as Python's ``json`` writes it.

    Not the databases' JSON types: PostgreSQL's ``json`` rejects the NaN that Python writes for an
    undefined metric, ``jsonb`` reorders keys (the per-class IoU order is the figure's class order), and
    SQLite has none. Text behaves the same everywhere and round-trips every document bit for bit.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, ensure_ascii=False, allow_nan=True)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


def _id() -> Column:
    return Column("id", Integer, primary_key=True)


def _case_fk(primary: bool = True) -> Column:
    return Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=primary, nullable=False)


machines = Table(
    "machines", metadata, _id(),
    # '' rather than NULL for "none": NULLs never collide in a unique constraint, and this one must
    Column("arch", String(64), nullable=False),
    Column("cpu_model", String(256), nullable=False),
    Column("emulated", String(64), nullable=False),  # the emulator's name, '' when native
    Column("emulated_cpu", String(64), nullable=False),
    Column("node", String(256), nullable=False),  # host name
    UniqueConstraint("arch", "cpu_model", "emulated", "emulated_cpu", "node", name="uq_machines_identity"),
)

runs = Table(
    "runs", metadata, _id(),
    Column("run_hash", String(64), nullable=False, unique=True),  # sha256 of the canonical document
    Column("machine_id", ForeignKey("machines.id"), nullable=False, index=True),
    Column("source", Text, nullable=False),  # the file it was first imported from, or the pytest session
    Column("imported_at", DateTime, nullable=False),
    Column("started_at", DateTime, index=True),  # derived from "datetime"
    Column("committed_at", DateTime, index=True),  # derived from commit_info.time
    # the document's own top-level facts
    Column("datetime", Text),
    Column("benchmark_version", Text),  # "version": pytest-benchmark's
    Column("machine_info", JSONText),
    Column("doc_rest", JSONText, nullable=False),  # other top-level keys
    # commit_info (pytest-benchmark: git describe of the working directory, i.e. the qbench checkout)
    Column("commit_id", String(64), index=True),
    Column("commit_time", Text),
    Column("commit_author_time", Text),
    Column("commit_dirty", Boolean),
    Column("commit_branch", Text),
    Column("commit_project", Text),
    Column("commit_rest", JSONText),  # NULL when the document has no commit_info object
)

versions = Table(
    "versions", metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("package", String(128), primary_key=True),
    Column("version", String(128), nullable=False),
)

cases = Table(
    "cases", metadata, _id(),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),  # index in the document's "benchmarks" list
    Column("name", Text),
    Column("fullname", Text),
    Column("group", Text),
    Column("param", Text),
    Column("entry_rest", JSONText, nullable=False),  # params, options, ...
    # extra_info (qbench's): NULL extra_rest means the entry has no extra_info object
    Column("qbench_schema", Integer),
    Column("model", String(128), index=True),
    Column("task", String(64)),
    Column("mode", String(64)),
    Column("device", String(64)),
    Column("model_bytes", BigInteger),
    Column("model_sha256", String(64)),
    Column("size_ratio", Float),
    Column("eval_samples", BigInteger),
    Column("eval_device", String(64)),
    Column("outputs_xxh3_128", String(64)),
    Column("predictions_sha256", String(64)),
    Column("latency_median_s", Float),
    Column("latency_p90_s", Float),
    Column("latency_p99_s", Float),
    Column("fps", Float),
    Column("init_s", Float),
    Column("first_invoke_s", Float),
    Column("peak_rss_bytes", BigInteger),
    Column("extra_rest", JSONText),
    UniqueConstraint("run_id", "position", name="uq_cases_run_position"),
)

quality = Table(
    "quality", metadata, _case_fk(),
    Column("metric", String(64), primary_key=True),  # accuracy, pixel_accuracy, miou
    Column("value", Float, nullable=False),
)

class_iou = Table(
    "class_iou", metadata, _case_fk(),
    Column("position", Integer, primary_key=True),  # the class's place in per_class_iou
    Column("class_name", Text, nullable=False),
    Column("iou", Float),  # NULL: the class appears neither in the labels nor in the predictions
)

stats = Table(
    "stats", metadata, _case_fk(),
    *(Column(name, Float) for name in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ld15iqr",
                                       "hd15iqr", "ops", "total")),
    *(Column(name, BigInteger) for name in ("rounds", "iterations", "iqr_outliers", "stddev_outliers")),
    Column("outliers", Text),
    Column("stats_rest", JSONText, nullable=False),
)

samples = Table(
    "samples", metadata, _case_fk(),
    Column("round", Integer, primary_key=True),
    Column("seconds", Float, nullable=False),  # one round's time per iteration, as stats.data holds it
)

STATS_FLOATS = ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ld15iqr", "hd15iqr", "ops", "total")
STATS_INTS = ("rounds", "iterations", "iqr_outliers", "stddev_outliers")

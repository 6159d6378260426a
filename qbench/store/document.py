"""A pytest-benchmark document <-> the store's rows, without loss, and the content hash that names a run.

``split`` turns a document into plain row dicts for ``schema.py``'s tables; ``join`` turns them back
into the same document. A value moves into a typed column only when it has exactly that column's type
(an ``int`` stays an int, a NaN or an unexpected string stays in the level's ``*_rest`` JSON), so the
joined document serializes to the same canonical bytes and therefore to the same ``run_hash``: readers
check that, so a store that lost or changed a fact says so instead of reporting something else.

Only key order inside an object may differ, and the hash ignores it; the one order that carries meaning,
the classes of ``per_class_iou``, is kept by ``class_iou.position``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

from qbench.errors import QbenchError
from qbench.report.load import QUALITY_METRICS
from qbench.store.schema import STATS_FLOATS, STATS_INTS

_INT64 = 2**63


def canonical(doc: dict) -> bytes:
    """The bytes a run's identity is computed from: sorted keys, no whitespace, NaN as Python writes it."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode()


def run_hash(doc: dict) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


def _fits(value, kind: type) -> bool:
    if kind is float:
        return type(value) is float and math.isfinite(value)  # SQLite stores NaN as NULL
    if kind is int:
        return type(value) is int and -_INT64 <= value < _INT64
    return type(value) is kind  # str, bool


def _take(obj: dict, fields: dict[str, type], rename: dict[str, str] | None = None) -> tuple[dict, dict]:
    """(column values, the rest of ``obj``): a key becomes a column only when its value fits the column."""
    rename = rename or {}
    columns, rest = {}, dict(obj)
    for key, kind in fields.items():
        value = obj.get(key)
        fits = key in obj and _fits(value, kind)
        columns[rename.get(key, key)] = value if fits else None
        if fits:
            del rest[key]
    return columns, rest


def _put(columns: dict, rest: dict, fields: dict[str, type], rename: dict[str, str] | None = None) -> dict:
    rename = rename or {}
    obj = dict(rest)
    for key in fields:
        value = columns[rename.get(key, key)]
        if value is not None:
            obj[key] = value
    return obj


def utc(text) -> datetime | None:
    """An ISO timestamp as naive UTC (the store's convention), or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


DOC_FIELDS = {"datetime": str, "version": str}
DOC_RENAME = {"version": "benchmark_version"}
COMMIT_FIELDS = {"id": str, "time": str, "author_time": str, "dirty": bool, "branch": str, "project": str}
COMMIT_RENAME = {k: f"commit_{k}" for k in COMMIT_FIELDS}
ENTRY_FIELDS = {"name": str, "fullname": str, "group": str, "param": str}
EXTRA_FIELDS = {
    "qbench_schema": int, "model": str, "task": str, "mode": str, "device": str, "model_bytes": int,
    "model_sha256": str, "size_ratio": float, "eval_samples": int, "eval_device": str, "outputs_xxh3_128": str,
    "predictions_sha256": str, "latency_median_s": float, "latency_p90_s": float, "latency_p99_s": float,
    "fps": float, "init_s": float, "first_invoke_s": float, "peak_rss_bytes": int,
}
STATS_FIELDS = {**{k: float for k in STATS_FLOATS}, **{k: int for k in STATS_INTS}, "outliers": str}


@dataclass
class CaseRows:
    """One benchmark entry: its ``cases`` row and the rows that hang off it."""

    case: dict
    quality: list[dict] = field(default_factory=list)
    class_iou: list[dict] = field(default_factory=list)
    stats: dict | None = None
    samples: list[float] = field(default_factory=list)


@dataclass
class RunRows:
    run: dict  # the runs row, without machine_id, source and imported_at
    cases: list[CaseRows]


def split(doc: dict, where: str) -> RunRows:
    """The rows that store ``doc``. ``where`` names the document in errors (its file)."""
    benchmarks = doc.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise QbenchError(f"{where} is not a pytest-benchmark run (no 'benchmarks' list)",
                          "import files written by pytest --benchmark-json or --benchmark-autosave")
    run, rest = _take(doc, DOC_FIELDS, DOC_RENAME)
    del rest["benchmarks"]
    machine_info = rest.pop("machine_info", None)
    if machine_info is not None and not isinstance(machine_info, dict):
        rest["machine_info"] = machine_info  # not pytest-benchmark's; kept as it is
        machine_info = None
    commit_info = rest.pop("commit_info", None) if isinstance(doc.get("commit_info"), dict) else None
    commit, commit_rest = _take(commit_info or {}, COMMIT_FIELDS, COMMIT_RENAME)
    run |= commit | {
        "machine_info": machine_info, "doc_rest": rest, "commit_rest": commit_rest if commit_info is not None else None,
        "started_at": utc(doc.get("datetime")), "committed_at": utc((commit_info or {}).get("time")),
    }
    cases = []
    for position, entry in enumerate(benchmarks):
        if not isinstance(entry, dict):
            raise QbenchError(f"{where}: benchmark #{position + 1} is not an object",
                              "import files written by pytest --benchmark-json or --benchmark-autosave")
        cases.append(_split_entry(position, entry))
    return RunRows(run, cases)


def _split_entry(position: int, entry: dict) -> CaseRows:
    case, entry_rest = _take(entry, ENTRY_FIELDS)
    rows = CaseRows(case)
    extra = entry_rest.pop("extra_info", None) if isinstance(entry.get("extra_info"), dict) else None
    columns, extra_rest = _take(extra or {}, EXTRA_FIELDS)
    for metric in QUALITY_METRICS:
        if metric in extra_rest and _fits(extra_rest[metric], float):
            rows.quality.append({"metric": metric, "value": extra_rest.pop(metric)})
    per_class = extra_rest.get("per_class_iou")
    if isinstance(per_class, dict) and per_class and all(v is None or _fits(v, float) for v in per_class.values()):
        del extra_rest["per_class_iou"]
        rows.class_iou = [{"position": i, "class_name": k, "iou": v} for i, (k, v) in enumerate(per_class.items())]
    stats = entry_rest.pop("stats", None) if isinstance(entry.get("stats"), dict) else None
    if stats is not None:
        rows.stats, stats_rest = _take(stats, STATS_FIELDS)
        data = stats_rest.get("data")
        if isinstance(data, list) and data and all(_fits(s, float) for s in data):
            rows.samples = stats_rest.pop("data")
        rows.stats["stats_rest"] = stats_rest
    case |= columns | {"position": position, "entry_rest": entry_rest,
                       "extra_rest": extra_rest if extra is not None else None}
    return rows


def join(rows: RunRows) -> dict:
    """The document ``split`` was given (up to key order)."""
    run = rows.run
    doc = _put(run, run["doc_rest"], DOC_FIELDS, DOC_RENAME)
    if run["machine_info"] is not None:
        doc["machine_info"] = run["machine_info"]
    if run["commit_rest"] is not None:
        doc["commit_info"] = _put(run, run["commit_rest"], COMMIT_FIELDS, COMMIT_RENAME)
    doc["benchmarks"] = [_join_entry(c) for c in sorted(rows.cases, key=lambda c: c.case["position"])]
    return doc


def _join_entry(rows: CaseRows) -> dict:
    case = rows.case
    entry = _put(case, case["entry_rest"], ENTRY_FIELDS)
    if case["extra_rest"] is not None:
        extra = _put(case, case["extra_rest"], EXTRA_FIELDS)
        extra |= {q["metric"]: q["value"] for q in rows.quality}
        if rows.class_iou:
            extra["per_class_iou"] = {c["class_name"]: c["iou"] for c in sorted(rows.class_iou,
                                                                                 key=lambda c: c["position"])}
        entry["extra_info"] = extra
    if rows.stats is not None:
        stats = _put(rows.stats, rows.stats["stats_rest"], STATS_FIELDS)
        if rows.samples:
            stats["data"] = list(rows.samples)
        entry["stats"] = stats
    return entry

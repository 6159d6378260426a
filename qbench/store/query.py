"""Selecting stored runs (machine, commit or commit range, time, latest N) and reading them back whole.

The selector is the store URL's query string, so one command-line word names both the store and the
runs: ``sqlite:///.benchmarks/qbench.db?machine=this&latest=1``. Keys (all optional, combined with AND):

- ``machine=GLOB`` -- host name, architecture (``aarch64``), kind (``aarch64 emulated``) or report label
  (``x86_64 Intel Xeon E5-2690 v4``), shell-style wildcards allowed; ``this`` is the host running qbench
- ``commit=SHA`` -- runs made at commits starting with SHA; ``commit=A..B`` -- from A's commit time to
  B's, both ends included (the store knows commit times, not git's graph)
- ``since=DATE``, ``until=DATE`` -- run start, ISO 8601 in UTC; a bare date includes that whole day
- ``run=HASH`` -- one run by a prefix of its content hash (``qbench store list`` prints them)
- ``latest=N`` -- the N most recent of what is left; ``skip=K`` leaves out the K most recent first
  (``latest=1&skip=1`` is the run before the last)

Runs come out oldest first. Headers (``StoredRun``) are fetched for the whole store and filtered in
Python, which stays cheap for the thousands of runs a fleet makes; documents only for the chosen runs.
"""

from __future__ import annotations

import fnmatch
import platform
from itertools import groupby
from operator import itemgetter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from qbench import machine as this_machine
from qbench.errors import QbenchError
from qbench.report.load import Machine
from qbench.store import schema as t
from qbench.store.document import CaseRows, RunRows, join, run_hash, utc



@dataclass(frozen=True)
class StoredRun:
    """A stored run's header: enough to select and list it without reading its cases."""

    id: int
    run_hash: str
    source: str
    datetime: str | None
    started_at: datetime | None
    committed_at: datetime | None
    commit_id: str | None
    commit_dirty: bool | None
    machine: Machine
    cases: int

    @property
    def order(self) -> tuple:
        return (self.started_at or datetime.min, self.id)


@dataclass(frozen=True)
class Selector:
    machine: str | None = None
    commit: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    run: str | None = None
    latest: int | None = None
    skip: int = 0
    text: str = ""  # as given, for messages

    @classmethod
    def parse(cls, pairs: dict[str, str], where: str) -> Selector:
        def count(key: str, least: int) -> int | None:
            if key not in pairs:
                return None
            try:
                value = int(pairs[key])
            except ValueError:
                value = least - 1
            if value < least:
                raise QbenchError(f"{where}: {key}={pairs[key]!r} is not a whole number >= {least}",
                                  f"e.g. {key}={max(least, 1)}")
            return value

        def moment(key: str) -> datetime | None:
            if key not in pairs:
                return None
            text = pairs[key]
            value = utc(text) or utc(text.replace(" ", "+"))  # a URL query reads an unescaped "+02:00" as " 02:00"
            if value is None:
                raise QbenchError(f"{where}: {key}={text!r} is not an ISO 8601 date or time",
                                  f"e.g. {key}=2026-11-27 or {key}=2026-11-27T05:00")
            if key == "until" and len(text) == 10:  # a bare date: the whole day
                value += timedelta(days=1)
            return value

        for key in ("machine", "commit", "run"):
            if key in pairs and not pairs[key].strip():
                raise QbenchError(f"{where}: {key}= is empty", f"give a value, e.g. {key}=" +
                                  {"machine": "this", "commit": "a11a564", "run": "3f2a9c1d"}[key])
        text = "&".join(f"{k}={v}" for k, v in pairs.items())
        return cls(pairs.get("machine"), pairs.get("commit"), moment("since"), moment("until"), pairs.get("run"),
                   count("latest", 1), count("skip", 0) or 0, text)

    def apply(self, headers: list[StoredRun], where: str) -> list[StoredRun]:
        chosen = sorted(headers, key=lambda h: h.order)
        if self.machine:
            matches = _machine_matcher(self.machine)
            chosen = [h for h in chosen if matches(h.machine)]
        if self.run:
            chosen = [h for h in chosen if h.run_hash.startswith(self.run.lower())]
        if self.commit:
            chosen = _commits(chosen, headers, self.commit, where)
        if self.since:
            chosen = [h for h in chosen if h.started_at and h.started_at >= self.since]
        if self.until:
            chosen = [h for h in chosen if h.started_at and h.started_at < self.until]
        end = len(chosen) - self.skip
        start = 0 if self.latest is None else max(0, end - self.latest)
        return chosen[start:max(end, 0)]


def _machine_matcher(pattern: str) -> Callable[[Machine], bool]:
    if pattern == "this":  # the host name and the kind (architecture, emulation) of the machine running qbench
        here = this_machine.describe()
        kind, node = here["arch"] + (" emulated" if here["emulated"] else ""), platform.node()
        return lambda m: m.node == node and m.kind == kind
    glob = pattern.lower()
    return lambda m: any(fnmatch.fnmatchcase(n.lower(), glob) for n in (m.node, m.arch, m.kind, m.label) if n)


def _commits(chosen: list[StoredRun], every: list[StoredRun], spec: str, where: str) -> list[StoredRun]:
    if ".." not in spec:
        return [h for h in chosen if h.commit_id and h.commit_id.startswith(spec.lower())]
    low, high = (_commit_time(every, end, where) for end in spec.split("..", 1))
    if low > high:
        low, high = high, low
    return [h for h in chosen if h.committed_at and low <= h.committed_at <= high]


def _commit_time(headers: list[StoredRun], prefix: str, where: str) -> datetime:
    found = {h.commit_id: h.committed_at for h in headers if h.commit_id and h.commit_id.startswith(prefix.lower())}
    if len(found) != 1 or None in found.values():
        problem = ("no stored run was made at a commit starting with" if not found else
                   "several commits start with" if len(found) > 1 else "the store has no commit time for")
        raise QbenchError(f"{where}: {problem} {prefix!r}",
                          f"`qbench store list {where}` shows the stored runs and their commits")
    return next(iter(found.values()))


def headers(conn: Connection) -> list[StoredRun]:
    counts = select(t.cases.c.run_id, func.count().label("n")).group_by(t.cases.c.run_id).subquery()
    rows = conn.execute(
        select(t.runs.c.id, t.runs.c.run_hash, t.runs.c.source, t.runs.c.datetime, t.runs.c.started_at,
               t.runs.c.committed_at, t.runs.c.commit_id, t.runs.c.commit_dirty, t.machines.c.arch,
               t.machines.c.cpu_model, t.machines.c.emulated, t.machines.c.emulated_cpu, t.machines.c.node,
               func.coalesce(counts.c.n, 0).label("n"))
        .join(t.machines, t.runs.c.machine_id == t.machines.c.id)
        .outerjoin(counts, counts.c.run_id == t.runs.c.id)
    )
    return [StoredRun(r.id, r.run_hash, r.source, r.datetime, r.started_at, r.committed_at, r.commit_id,
                      r.commit_dirty, _machine(r), r.n) for r in rows]


def _machine(row) -> Machine:
    return Machine(arch=row.arch, cpu_model=row.cpu_model, emulated=row.emulated or None,
                   emulated_cpu=row.emulated_cpu or None, node=row.node)


def machine_row(machine: Machine) -> dict:
    return {"arch": machine.arch, "cpu_model": machine.cpu_model, "emulated": machine.emulated or "",
            "emulated_cpu": machine.emulated_cpu or "", "node": machine.node}


def documents(conn: Connection, chosen: list[StoredRun], name: str) -> list[dict]:
    """The chosen runs' documents, in the order given, each checked against its content hash."""
    ids = [h.id for h in chosen]
    if not ids:
        return []
    run_rows = {r.id: dict(r._mapping) for r in conn.execute(select(t.runs).where(t.runs.c.id.in_(ids)))}
    by_run: dict[int, list[CaseRows]] = {i: [] for i in ids}
    by_case: dict[int, CaseRows] = {}
    for r in conn.execute(select(t.cases).where(t.cases.c.run_id.in_(ids))):
        rows = CaseRows(dict(r._mapping))
        by_run[r.run_id].append(rows)
        by_case[r.id] = rows
    in_runs = select(t.cases.c.id).where(t.cases.c.run_id.in_(ids))
    for r in conn.execute(select(t.quality).where(t.quality.c.case_id.in_(in_runs))):
        by_case[r.case_id].quality.append({"metric": r.metric, "value": r.value})
    for r in conn.execute(select(t.class_iou).where(t.class_iou.c.case_id.in_(in_runs))):
        by_case[r.case_id].class_iou.append(dict(r._mapping))
    for r in conn.execute(select(t.stats).where(t.stats.c.case_id.in_(in_runs))):
        by_case[r.case_id].stats = dict(r._mapping)
    samples = conn.execute(select(t.samples.c.case_id, t.samples.c.seconds).where(t.samples.c.case_id.in_(in_runs))
                           .order_by(t.samples.c.case_id, t.samples.c.round)).all()  # ~1e5 rows, fetched at once
    for case_id, group in groupby(samples, key=itemgetter(0)):
        by_case[case_id].samples = [seconds for _, seconds in group]
    docs = []
    for header in chosen:
        doc = join(RunRows(run_rows[header.id], by_run[header.id]))
        if run_hash(doc) != header.run_hash:
            raise QbenchError(
                f"run {header.run_hash[:12]} in {name} no longer reproduces the document it was imported from",
                f"the store was changed outside qbench; re-import {header.source} (qbench store import)",
            )
        docs.append(doc)
    return docs

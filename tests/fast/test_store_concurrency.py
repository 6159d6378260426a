"""16 processes importing at once into one store, SQLite and PostgreSQL: nothing lost, nothing doubled.

Every writer first imports the *same* run (all at the same instant, behind a barrier), then three runs of
its own, one transaction per file; the writers' runs come from four machines, so machine rows are
contended as well. Afterwards the store must hold each distinct run exactly once with all its rows, each
document must still reproduce its content hash, and exactly one writer must have created the shared run.
The numbers (writers, imports, runs, rows, seconds) are printed for the record, not asserted.
"""

from __future__ import annotations

import multiprocessing
import time

from sqlalchemy import func, select

import benchjson
from pgserver import store_url  # noqa: F401  (fixture)
from qbench.store import api
from qbench.store import schema as t
from qbench.store.document import run_hash

WRITERS = 16
OWN_RUNS = 3
ROUNDS = 50
MODES, DEVICES = benchjson.MODES, benchjson.DEVICES  # 24 cases per run


def _writer(url: str, files: list[str], barrier) -> tuple[float, list[bool]]:
    barrier.wait()
    start = time.perf_counter()
    created = []
    for path in files:  # one transaction per file: the most commits, the most contention
        _, (result,) = api.import_files([path], url)
        created.append(result.created)
    return time.perf_counter() - start, created


def test_sixteen_writers_store_every_run_exactly_once(store_url, tmp_path, capsys):
    shared = benchjson.write(tmp_path / "shared.json", benchjson.make_run(node="board-0", rounds=ROUNDS, seed=999))
    docs = {shared: benchjson.make_run(node="board-0", rounds=ROUNDS, seed=999)}
    plans = []
    for w in range(WRITERS):
        own = []
        for k in range(OWN_RUNS):
            doc = benchjson.make_run(node=f"board-{w % 4}", rounds=ROUNDS, seed=w * OWN_RUNS + k)
            own.append(benchjson.write(tmp_path / f"w{w:02d}-{k}.json", doc))
            docs[own[-1]] = doc
        plans.append([str(shared), *map(str, own)])
    ctx = multiprocessing.get_context("fork")  # no engine exists in this process yet: nothing shared is copied
    barrier = ctx.Manager().Barrier(WRITERS)
    start = time.perf_counter()
    with ctx.Pool(WRITERS) as pool:
        results = pool.starmap(_writer, [(store_url, plan, barrier) for plan in plans])
    wall = time.perf_counter() - start

    created = [c for _, flags in results for c in flags]
    assert sum(flags[0] for _, flags in results) == 1, "exactly one writer stores the shared run"
    assert all(flags[1:] == [True] * OWN_RUNS for _, flags in results), "every writer's own runs are new"
    store, selector = api.open_store(store_url, create=False)
    with store:
        chosen = store.select(selector)
        back = store.documents(chosen)  # raises if any run's rows do not rebuild its document
        with store.engine.connect() as conn:
            rows = {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in t.metadata.tables.items()}
    want = {run_hash(d) for d in docs.values()}
    assert len(want) == WRITERS * OWN_RUNS + 1
    assert sorted(h.run_hash for h in chosen) == sorted(want) == sorted(run_hash(d) for d in back)
    cases = len(MODES) * len(DEVICES)
    assert rows["runs"] == len(want) and rows["machines"] == 4
    assert rows["cases"] == rows["stats"] == rows["quality"] == len(want) * cases
    assert rows["samples"] == len(want) * cases * ROUNDS
    with capsys.disabled():
        kind = store_url.split(":", 1)[0]
        print(f"\n[store concurrency, {kind}] {WRITERS} writers, {len(created)} imports ({WRITERS} of one shared run), "
              f"{rows['runs']} runs stored, {sum(rows.values())} rows ({rows['samples']} raw samples), "
              f"{wall:.1f} s wall, slowest writer {max(s for s, _ in results):.1f} s")

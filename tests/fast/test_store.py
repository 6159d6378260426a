"""The results store on SQLite and PostgreSQL: lossless round trip, idempotent and transactional import,
selectors, migrations, and every bad-input path as one QbenchError."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, text

import benchjson
from pgserver import postgres_or_skip, postgres_url, store_url  # noqa: F401  (fixtures)
from qbench import machine as qbench_machine
from qbench.errors import QbenchError
from qbench.sources import load_run
from qbench.store import api, ingest
from qbench.store import schema as t
from qbench.store.document import canonical, join, run_hash, split
from qbench.store.migrate import head

from paths import REPO

BASELINE = REPO / "baselines" / "arm64-emulated.json"
ARM = dict(arch="aarch64", emulated="qemu-aarch64", emulated_cpu="cortex-a72", node="pi-emu",
           devices=("xnnpack", "builtin"))


def counts(url: str) -> dict[str, int]:
    """Rows per table: what "nothing was written" is checked against."""
    store, _ = api.open_store(url, create=False)
    with store, store.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in t.metadata.tables.items()}


def stored(url: str, selector: str = "") -> list[dict]:
    store, sel = api.open_store(url + selector, create=False)
    with store:
        return store.documents(store.select(sel))


def run_doc(seed: int = 0, day: int = 20, commit: str | None = None, **kw) -> dict:
    doc = benchjson.make_run(seed=seed, rounds=12, **kw)
    doc["datetime"] = f"2026-11-{day:02d}T01:00:00+00:00"
    doc["commit_info"] = {**doc["commit_info"], "id": commit or f"{seed:x}{day:02d}aaaa0000",
                          "time": f"2026-11-{day:02d}T00:00:00+00:00"}
    return doc


def edge_cases() -> list[dict]:
    """Documents whose values do not fit the typed columns: they must come back exactly all the same."""
    base = benchjson.make_run(models=("mnist_cnn", "deeplab_scenes"), devices=("xnnpack",), rounds=5)
    docs = [copy.deepcopy(base) for _ in range(5)]
    seg = next(b for b in docs[0]["benchmarks"] if b["extra_info"]["model"] == "deeplab_scenes")
    seg["extra_info"]["miou"] = float("nan")  # Python's json writes an undefined metric as NaN
    seg["extra_info"]["per_class_iou"]["road"] = float("nan")
    seg["extra_info"]["size_ratio"] = 1  # an int where a float column expects a float
    docs[0]["benchmarks"][0]["stats"]["rounds"] = 5.0
    docs[0]["benchmarks"][0]["stats"]["outliers"] = 3
    del docs[1]["commit_info"]
    docs[1]["machine_info"]["node"] = "ünïcödé host ✓"
    docs[1]["benchmarks"][0]["stats"]["data"] = []
    docs[1]["benchmarks"][1]["extra_info"]["per_class_iou"] = {}
    docs[2]["commit_info"] = {"id": "unknown", "time": None, "error": "no git", "dirty": "maybe"}
    docs[2]["extra_top_level"] = {"nested": [1, 2.5, None, True, "x"]}
    docs[2]["benchmarks"][0]["extra_info"]["peak_rss_bytes"] = 2**70  # beyond BIGINT: stays JSON
    docs[3]["benchmarks"].append({"name": "test_plain", "stats": {"median": 0.1}})  # not qbench's: kept as well
    docs[3]["benchmarks"][0]["stats"]["data"] = [1e-300, 5e-324, 1.7976931348623157e308]
    docs[4]["benchmarks"][0]["extra_info"]["latency_p99_s"] = float("inf")  # not read by the report
    docs[4]["version"] = 5
    return docs


def test_split_join_keeps_the_content_hash_of_a_real_run():
    doc = json.loads(BASELINE.read_text())
    assert run_hash(join(split(doc, "x"))) == run_hash(doc)


def test_canonical_form_ignores_key_order_but_not_types():
    assert canonical({"a": 1, "b": [1.0]}) == canonical({"b": [1.0], "a": 1})
    assert run_hash({"a": 1}) != run_hash({"a": 1.0})


def test_a_real_run_round_trips_through_each_database(store_url):
    api.import_files([BASELINE], store_url)
    (doc,) = stored(store_url)
    assert canonical(doc) == canonical(json.loads(BASELINE.read_text()))
    c = counts(store_url)
    assert (c["runs"], c["cases"], c["machines"]) == (1, 12, 1)
    assert c["samples"] == sum(len(b["stats"]["data"]) for b in json.loads(BASELINE.read_text())["benchmarks"])
    assert c["quality"] == 12 and c["stats"] == 12


def test_odd_values_round_trip_exactly(store_url, tmp_path):
    files = [benchjson.write(tmp_path / f"edge{i}.json", doc) for i, doc in enumerate(edge_cases())]
    api.import_files(files, store_url)
    got = {run_hash(d) for d in stored(store_url)}  # documents() also checks each hash itself
    assert got == {run_hash(json.loads(f.read_text())) for f in files}
    assert len(got) == len(files)


def test_stored_runs_are_the_same_records_as_the_files(store_url, tmp_path):
    x86 = benchjson.write(tmp_path / "x86.json", run_doc(models=("mnist_cnn", "deeplab_scenes")))
    arm = benchjson.write(tmp_path / "arm.json", run_doc(day=21, **ARM))
    api.import_files([x86, arm], store_url)
    from_store = api.load_selected(store_url)
    for mine, theirs in zip(from_store, [load_run(x86), load_run(arm)]):
        assert mine.cases == theirs.cases and mine.machine == theirs.machine and mine.commit == theirs.commit
        assert (mine.path, mine.datetime, mine.versions) == (theirs.path, theirs.datetime, theirs.versions)
        assert all(mine.cases[k].info == theirs.cases[k].info for k in mine.cases)
        assert [list(c.per_class_iou) for c in mine.cases.values()] == \
               [list(c.per_class_iou) for c in theirs.cases.values()]  # class order: the figure's order


def test_the_same_run_is_stored_once(store_url, tmp_path):
    doc = run_doc()
    a = benchjson.write(tmp_path / "a.json", doc)
    copy_ = tmp_path / "copy.json"
    copy_.write_text(json.dumps(doc))  # other whitespace and file name, same run
    _, first = api.import_files([a], store_url)
    before = counts(store_url)
    _, again = api.import_files([a, copy_, a], store_url)
    assert first[0].created and not any(r.created for r in again)
    assert {r.run_id for r in first + again} == {first[0].run_id}
    assert counts(store_url) == before


def test_one_batch_holding_a_run_twice_stores_it_once(store_url, tmp_path):
    a = benchjson.write(tmp_path / "a.json", run_doc())
    _, results = api.import_files([a, a], store_url)
    assert [r.created for r in results] == [True, False]
    assert counts(store_url)["runs"] == 1


@pytest.mark.parametrize("content, problem", [
    ('{"machine_info": {}, "benchmarks": [{"name": "t", "extra_info": {"qbench_schema": 1, "model"', "truncated"),
    ("", "is empty"),
    ('["not", "an", "object"]', "not a pytest-benchmark run"),
    ('{"hello": "world"}', "no 'benchmarks' list"),
    ('{"machine_info": {}, "benchmarks": [{"name": "test_x", "stats": {"median": 1.0}}]}', "none from qbench"),
])
def test_a_bad_file_writes_nothing_and_names_itself(store_url, tmp_path, content, problem):
    good = benchjson.write(tmp_path / "good.json", run_doc())
    api.import_files([good], store_url)
    before = counts(store_url)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    later = benchjson.write(tmp_path / "later.json", run_doc(seed=1))
    with pytest.raises(QbenchError) as err:
        api.import_files([later, bad], store_url)
    assert str(bad) in err.value.problem and problem in err.value.problem
    assert counts(store_url) == before


def test_a_truncated_file_does_not_even_create_a_store(tmp_path):
    full = json.dumps(run_doc())
    bad = tmp_path / "cut.json"
    bad.write_text(full[: len(full) // 2])
    with pytest.raises(QbenchError, match="is it truncated"):
        api.import_files([bad], tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()


def test_a_failure_during_the_write_rolls_the_whole_batch_back(store_url, tmp_path, monkeypatch):
    files = [benchjson.write(tmp_path / f"r{i}.json", run_doc(seed=i)) for i in range(3)]
    api.import_files(files[:1], store_url)
    before = counts(store_url)
    real, calls = ingest._write_run, []

    def fail_on_the_second(conn, item, machine_id, now):
        calls.append(item.source)
        if len(calls) == 2:
            raise QbenchError("simulated failure after one run was written")
        return real(conn, item, machine_id, now)

    monkeypatch.setattr(ingest, "_write_run", fail_on_the_second)
    with pytest.raises(QbenchError, match="simulated"):
        api.import_files(files, store_url)
    assert len(calls) == 2
    assert counts(store_url) == before


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history(request, tmp_path_factory) -> tuple[str, list[dict]]:
    """Five runs of two machines at five commits; the tests that use it only read."""
    folder = tmp_path_factory.mktemp("history")
    url = f"sqlite:///{folder / 'store.db'}" if request.param == "sqlite" else postgres_or_skip()
    docs = [run_doc(seed=0, day=20, commit="aaa0001"), run_doc(seed=1, day=21, commit="bbb0002"),
            run_doc(seed=2, day=22, commit="ccc0003"), run_doc(day=23, commit="ddd0004", **ARM),
            run_doc(seed=3, day=24, commit="eee0005")]
    api.import_files([benchjson.write(folder / f"h{i}.json", d) for i, d in enumerate(docs)], url)
    return url, docs


@pytest.mark.parametrize("selector, want", [
    ("", [0, 1, 2, 3, 4]),
    ("?latest=2", [3, 4]),
    ("?latest=1&skip=1", [3]),
    ("?machine=ci-x86", [0, 1, 2, 4]),
    ("?machine=aarch64", [3]),
    ("?machine=*emulated*", [3]),
    ("?machine=x86_64 Intel*&latest=2", [2, 4]),
    ("?commit=bbb", [1]),
    ("?commit=bbb..ddd", [1, 2, 3]),
    ("?commit=ddd..bbb&machine=ci-x86", [1, 2]),
    ("?since=2026-11-22&until=2026-11-23", [2, 3]),
    ("?since=2026-11-21T12:00+02:00", [2, 3, 4]),
])
def test_selectors(history, selector, want):
    url, docs = history
    assert [run_hash(d) for d in stored(url, selector)] == [run_hash(docs[i]) for i in want]


def test_run_hash_and_this_machine_selectors(history, monkeypatch):
    store_url, docs = history
    prefix = run_hash(docs[2])[:10]
    assert [run_hash(d) for d in stored(store_url, f"?run={prefix}")] == [run_hash(docs[2])]
    monkeypatch.setattr("platform.node", lambda: "pi-emu")
    monkeypatch.setattr(qbench_machine, "describe", lambda: {"arch": "aarch64", "emulated": "qemu-aarch64"})
    assert [run_hash(d) for d in stored(store_url, "?machine=this")] == [run_hash(docs[3])]


@pytest.mark.parametrize("selector, problem", [
    ("?latest=0", "latest='0' is not a whole number >= 1"),
    ("?skip=-1", "skip='-1' is not a whole number >= 0"),
    ("?since=yesterday", "not an ISO 8601"),
    ("?machine=", "machine= is empty"),
    ("?commit=fff", "no run"),
    ("?commit=fff..aaa", "no stored run was made at a commit starting with 'fff'"),
    ("?machine=riscv*", "no run in"),
])
def test_bad_selectors_are_one_error_each(history, selector, problem):
    store_url, _ = history
    with pytest.raises(QbenchError, match=problem.replace("?", r"\?").replace("*", r"\*")) as err:
        api.load_selected(store_url + selector)
    assert err.value.fix


def test_unknown_selector_key_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.raises(QbenchError, match="unknown selector key 'machin'") as err:
        api.load_selected(url + "?machin=x")
    assert "latest" in err.value.fix


def test_one_run_is_needed_for_gate_and_consistency(history):
    store_url, docs = history
    with pytest.raises(QbenchError, match="selects 4 runs where one is needed") as err:
        api.load_one(store_url + "?machine=ci-x86")
    assert "latest=1" in err.value.fix
    assert api.load_one(store_url + "?machine=ci-x86&latest=1").datetime == docs[4]["datetime"]


def test_reading_a_missing_sqlite_store_creates_nothing(tmp_path):
    with pytest.raises(QbenchError, match="no store at") as err:
        api.load_selected(str(tmp_path / "nope.db"))
    assert "qbench store import" in err.value.fix
    assert not (tmp_path / "nope.db").exists()


def test_reading_an_empty_database_says_it_is_no_store(postgres_url):
    with pytest.raises(QbenchError, match="holds no qbench store yet"):
        api.load_selected(postgres_url)


def test_an_unreachable_server_is_one_error_without_the_password():
    with pytest.raises(QbenchError) as err:
        api.load_selected("postgresql://someone:s3cret@127.0.0.1:1/qbench")
    assert "cannot open the store" in err.value.problem and "s3cret" not in str(err.value)
    assert "running and reachable" in err.value.fix


@pytest.mark.parametrize("url, problem", [("mysql://x/y", "not a store qbench can use"),
                                          ("postgresql+psycopg2://h/db", "not a store qbench can use"),
                                          ("sqlite:///x.db?latest=1&latest=2", "given twice")])
def test_bad_store_names(url, problem):
    with pytest.raises(QbenchError, match=problem):
        api.load_selected(url)


def test_migrations_create_exactly_the_schema_of_the_models(store_url, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    api.import_files([benchjson.write(tmp_path / "r.json", run_doc())], store_url)
    store, _ = api.open_store(store_url, create=False)
    with store, store.engine.connect() as conn:
        version = conn.execute(text(f"SELECT version_num FROM {t.VERSION_TABLE}")).scalar_one()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), t.metadata)
    assert version == head() == "0001"
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == t.VERSION_TABLE)] == []


def test_a_store_from_a_newer_qbench_is_refused(store_url, tmp_path):
    api.import_files([benchjson.write(tmp_path / "r.json", run_doc())], store_url)
    store, _ = api.open_store(store_url, create=False)
    with store, store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {t.VERSION_TABLE} SET version_num = '9999'"))
    for attempt in (lambda: api.load_selected(store_url),
                    lambda: api.import_files([tmp_path / "r.json"], store_url)):
        with pytest.raises(QbenchError, match="revision 9999, which this qbench does not know") as err:
            attempt()
        assert "update qbench" in err.value.fix


def test_an_older_store_upgrades_itself_when_opened(store_url, tmp_path, monkeypatch):
    """Revision 0002 here is a test's own (a new column); the real migrations are copied next to it."""
    import shutil

    from qbench.store import migrate

    api.import_files([benchjson.write(tmp_path / "r.json", run_doc())], store_url)  # at 0001
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts)
    (scripts / "versions" / "0002_note.py").write_text(
        "from alembic import op\nimport sqlalchemy as sa\n"
        "revision, down_revision, branch_labels, depends_on = '0002', '0001', None, None\n"
        "def upgrade():\n    op.add_column('runs', sa.Column('note', sa.Text()))\n"
        "def downgrade():\n    op.drop_column('runs', 'note')\n"
    )
    monkeypatch.setattr(migrate, "MIGRATIONS", scripts)
    store, _ = api.open_store(store_url, create=False)  # a reader upgrades as well
    with store, store.engine.connect() as conn:
        assert store.schema_change == "upgraded from revision 0001 to 0002"
        assert "note" in {c["name"] for c in inspect(conn).get_columns("runs")}
        assert len(store.documents(store.select())) == 1
    store, _ = api.open_store(store_url, create=False)
    store.close()
    assert store.schema_change is None


def test_tables_of_someone_else_are_not_taken_over(store_url, tmp_path):
    store, _ = api.open_store(store_url, create=True)
    with store, store.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {t.VERSION_TABLE}"))
    with pytest.raises(QbenchError, match="already holds tables named like qbench's"):
        api.import_files([benchjson.write(tmp_path / "r.json", run_doc())], store_url)


def test_sqlite_store_is_in_wal_mode(tmp_path):
    api.import_files([benchjson.write(tmp_path / "r.json", run_doc())], tmp_path / "s.db")
    store, _ = api.open_store(tmp_path / "s.db", create=False)
    with store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert set(inspect(conn).get_table_names()) >= set(t.metadata.tables)


# Any JSON value at any level: the import either refuses the document as a whole (QbenchError, nothing
# written) or stores it so that it comes back with the same canonical bytes.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
LEVELS = ("top", "machine_info", "commit_info", "entry", "extra_info", "stats")
KEYS = ["datetime", "version", "id", "time", "dirty", "name", "group", "param", "model_bytes", "size_ratio",
        "eval_samples", "accuracy", "per_class_iou", "init_s", "rounds", "outliers", "data", "median", "novel"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(LEVELS), st.sampled_from(KEYS), json_values), min_size=1,
                        max_size=4))
def test_any_document_round_trips_or_is_refused_whole(tmp_path, changes):
    url = f"sqlite:///{tmp_path / 'prop.db'}"
    doc = benchjson.make_run(devices=("xnnpack",), modes=("float32", "int8"), rounds=3)
    for level, key, value in changes:
        target = {"top": doc, "machine_info": doc["machine_info"], "commit_info": doc["commit_info"],
                  "entry": doc["benchmarks"][0], "extra_info": doc["benchmarks"][0]["extra_info"],
                  "stats": doc["benchmarks"][0]["stats"]}[level]
        target[key] = value
    path = tmp_path / "prop.json"
    path.write_text(json.dumps(doc))
    doc = json.loads(path.read_text())  # as the file holds it (-0.0, NaN and all)
    before = counts(url) if (tmp_path / "prop.db").exists() else None
    try:
        _, (result,) = api.import_files([path], url)
    except QbenchError as e:
        assert str(path) in str(e)
        assert before is None or counts(url) == before
        return
    store, sel = api.open_store(url + f"?run={result.run_hash}", create=False)
    with store:
        (back,) = store.documents(store.select(sel))
    assert canonical(back) == canonical(doc)

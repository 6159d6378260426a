"""``pytest --qbench-store URL``: the session's results go into the store when the session ends.

The stored document is the one pytest-benchmark wrote to ``--benchmark-json`` when that was given (so
importing that file later finds the run already stored); otherwise it is made here with pytest-benchmark's
own hooks, raw samples included, exactly as ``--benchmark-json`` would have made it. pytest-benchmark
only builds a document for --benchmark-json or --benchmark-autosave, hence the second path: the option
works alone. The store is opened (created, migrated, reached) in ``pytest_configure``, so a bad URL or an
unreachable server stops the session before any benchmark runs.
"""

from __future__ import annotations

import pytest

from qbench.errors import QbenchError
from qbench.session_run import session_document

SUMMARY = pytest.StashKey[str]()


def _url(config: pytest.Config) -> str:
    return config.getoption("--qbench-store")


def check_store(config: pytest.Config) -> None:
    from qbench.store.api import open_store

    try:
        store, selector = open_store(_url(config), create=True, where="--qbench-store")
    except QbenchError as exc:
        raise pytest.UsageError(str(exc)) from None  # the message names --qbench-store
    store.close()
    if selector.text:
        raise pytest.UsageError(f"--qbench-store {_url(config)}: a selector ({selector.text}) makes no sense "
                                "when storing\nfix: name the store alone")


def store_session(session: pytest.Session) -> None:
    from qbench.store.api import store_document

    config = session.config
    url = _url(config)
    doc, source = session_document(config)
    if doc is None:
        bench = getattr(config, "_benchmarksession", None)
        why = " (pytest-benchmark is disabled under xdist: run the benchmarks without -n)" if bench and \
            getattr(bench, "xdist_warning", False) else ""
        config.stash[SUMMARY] = f"qbench: nothing stored in {url}: the session measured no benchmark{why}"
        return
    try:
        store, result = store_document(doc, source, url)
    except QbenchError as exc:
        config.stash[SUMMARY] = f"qbench: error: results not stored: {exc}"
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return
    state = "stored" if result.created else "already stored"
    config.stash[SUMMARY] = (f"qbench: {state} run {result.run_hash[:12]} ({len(doc['benchmarks'])} benchmarks) "
                             f"in {store.name}")


def summary(config: pytest.Config) -> str:
    return config.stash.get(SUMMARY, "qbench: nothing stored (the session ended before its results were made)")

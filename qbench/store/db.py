"""Connections that many writers can share: SQLite in WAL mode with immediate write locks, PostgreSQL as is,
and one retry loop for the conflicts either may still report.

SQLite: WAL lets readers go on while one process writes; a write transaction starts with ``BEGIN
IMMEDIATE`` so it takes the write lock before it reads (a deferred transaction that reads first and
upgrades later fails with "database is locked" without waiting, whatever the busy timeout); waiting
writers queue on the busy timeout. pysqlite's own transaction handling is switched off so these
statements are ours (SQLAlchemy's documented pysqlite recipe).

PostgreSQL: READ COMMITTED plus unique constraints and ``ON CONFLICT DO NOTHING`` make concurrent imports
of one run store it once; a deadlock or serialization failure (SQLSTATE 40P01 / 40001) is retried.
"""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from qbench.errors import QbenchError
from qbench.store.url import StoreSource

T = TypeVar("T")
BUSY_TIMEOUT_S = 60.0  # how long an SQLite writer queues for the lock before a retry
CONNECT_TIMEOUT_S = 15  # PostgreSQL: how long to wait for the server to answer
RETRIES = 8
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
WRITE = "qbench_write"  # execution option: this connection's transactions write


def make_engine(source: StoreSource) -> Engine:
    if source.url.get_backend_name() == "sqlite":
        engine = create_engine(source.url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # libpq waits for an unreachable host forever by default; ?connect_timeout=N in the URL overrides this
    timeout = {} if "connect_timeout" in source.url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    return create_engine(source.url, pool_pre_ping=True, connect_args=timeout)


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver: BEGIN is issued by _sqlite_begin
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys = ON")
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() != "wal" and dbapi_connection.execute("PRAGMA database_list").fetchone()[2]:
        cursor.execute("PRAGMA journal_mode = WAL")  # persistent: set once per file, not for :memory:
    cursor.execute("PRAGMA synchronous = NORMAL")  # WAL's recommended level: durable across app crashes
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def retryable(error: DBAPIError) -> bool:
    if getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    message = str(error.orig).lower()
    return isinstance(error, OperationalError) and ("database is locked" in message or "database is busy" in message)


def transaction(engine: Engine, work: Callable[[Connection], T], *, write: bool, what: str, name: str) -> T:
    """``work`` in one transaction, retried from scratch on a lock or serialization conflict.

    ``what`` and ``name`` (the store, password hidden) make the error message when the database refuses.
    """
    for attempt in range(RETRIES):
        try:
            with engine.connect() as conn:
                if write:
                    conn = conn.execution_options(**{WRITE: True})
                with conn.begin():
                    return work(conn)
        except DBAPIError as e:
            if retryable(e) and attempt < RETRIES - 1:
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
                continue
            raise database_error(e, what, name) from None
    raise AssertionError("unreachable")


def database_error(error: DBAPIError, what: str, name: str) -> QbenchError:
    detail = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
    if error.connection_invalidated or "connection" in detail.lower() or "could not" in detail.lower():
        fix = f"check that the database at {name} is running and reachable, and its URL, user and password"
    elif retryable(error):
        fix = "other writers held the store for too long; try again"
    else:
        fix = f"check that {name} is a qbench store this qbench can write (`qbench store list {name}`)"
    return QbenchError(f"cannot {what} {name}: {detail}", fix)

"""Bring a store's schema to the revision this qbench writes, or refuse with the reason.

Migrations are Alembic revisions shipped inside the package (``migrations/``), run on open, so nobody
runs a separate tool: a new store is created by revision 1, an older one is upgraded in one transaction
under the store's write lock (concurrent openers wait, then find it done), and a store written by a
*newer* qbench is refused rather than misread. Readers never create a store.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection

from qbench.errors import QbenchError
from qbench.store.db import transaction
from qbench.store.schema import VERSION_TABLE, metadata

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK = 0x71_62_65_6E_63_68  # "qbench": pg_advisory_xact_lock key serializing schema changes


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    return _script().get_current_head()


def _state(conn: Connection) -> tuple[set[str], set[str]]:
    """(the store's revisions, qbench's tables that exist)."""
    current = set(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads())
    return current, set(inspect(conn).get_table_names()) & set(metadata.tables)


def _upgrade(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    command.upgrade(alembic_config(conn), "head")


def ensure_schema(engine: Engine, name: str, *, create: bool) -> str | None:
    """Check (and create or upgrade) the schema; returns what was done, None when nothing was."""
    current, tables = transaction(engine, _state, write=False, what="open the store", name=name)
    want = head()
    if current == {want}:
        return None
    known = {r.revision for r in _script().walk_revisions()}
    if unknown := current - known:
        raise QbenchError(
            f"the store {name} has schema revision {', '.join(sorted(unknown))}, which this qbench does not know: "
            "a newer qbench wrote it",
            "update qbench (git pull, then ./run rebuilds its environment) before reading or writing this store",
        )
    if not current and tables:
        raise QbenchError(
            f"{name} already holds tables named like qbench's ({', '.join(sorted(tables))}) "
            "but no qbench schema version",
            "give qbench a database (or SQLite file) of its own",
        )
    if not current and not create:
        raise QbenchError(f"{name} holds no qbench store yet",
                          "import runs first: qbench store import RUN.json --store URL (or pytest --qbench-store URL)")
    transaction(engine, _upgrade, write=True, what="create or upgrade the schema of", name=name)
    if current:
        return f"upgraded from revision {', '.join(sorted(current))} to {want}"
    return f"created at revision {want}"

"""Which store a command-line string names, and which of its runs.

A store is named like pytest-benchmark's ``--benchmark-storage``: a plain path or ``sqlite:///FILE`` is an
SQLite file, ``postgresql://user@host/db`` a PostgreSQL database (driven by psycopg 3). The query string
carries the run selector (``?machine=pi4&latest=3``, see ``query.Selector``); any other query parameter is
the database driver's (``?sslmode=require``). Passwords never appear in messages: prefer ``~/.pgpass`` or
``PGPASSWORD`` to a password in the URL.

``qbench report``, ``gate`` and ``consistency`` take run files, folders and stores side by side, so
``is_store_source`` decides which one a string is without touching a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from qbench.errors import QbenchError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
SQLITE_MAGIC = b"SQLite format 3\x00"
SCHEMES = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
SELECTOR_KEYS = ("machine", "commit", "since", "until", "run", "latest", "skip")
_HOW = ("name a store as a path to an SQLite file, sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE, "
        "optionally followed by a selector such as ?machine=this&latest=1")


@dataclass(frozen=True)
class StoreSource:
    url: URL  # what SQLAlchemy connects to, selector keys removed
    selector: dict[str, str]  # the selector's raw key=value pairs, checked by query.Selector

    @property
    def name(self) -> str:
        """The store as messages show it: no password, no selector, no driver name."""
        if self.sqlite_path is not None:
            return f"sqlite:///{self.sqlite_path}"
        return self.url.set(drivername=self.url.get_backend_name()).render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        if self.url.get_backend_name() != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        return Path(self.url.database)


def _scheme(text: str) -> str | None:
    head, sep, _ = text.partition("://")
    return head.lower() if sep else None


def _is_sqlite_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def is_store_source(text) -> bool:
    """A store URL, or a path to an SQLite file (``?selector`` allowed after it); else a run file or folder."""
    text = str(text)
    if _scheme(text) is not None:
        return True
    return _is_sqlite_file(Path(text.partition("?")[0]))


def parse(text, *, where: str = "store") -> StoreSource:
    """``text`` as a store and a selector; a scheme-less string is an SQLite path."""
    from sqlalchemy.engine import URL, make_url  # here: deciding what a string is must not load SQLAlchemy
    from sqlalchemy.exc import ArgumentError

    text = str(text)
    scheme = _scheme(text)
    base, _, query = text.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)  # an empty value must reach the selector's check
    if scheme is None:
        if not base:
            raise QbenchError(f"{where}: no store given", _HOW)
        url = URL.create("sqlite+pysqlite", database=base)
    else:
        driver = scheme.split("+")[0]
        if scheme not in SCHEMES and scheme not in SCHEMES.values():  # e.g. mysql://, postgresql+psycopg2://
            raise QbenchError(f"{where}: {scheme}:// is not a store qbench can use (it drives SQLite and, with "
                              "psycopg 3, PostgreSQL)", _HOW)
        try:
            url = make_url(base)
        except ArgumentError as e:
            raise QbenchError(f"{where}: cannot parse {base!r} as a database URL ({e})", _HOW) from None
        if "+" not in scheme:  # the driver qbench pins, not SQLAlchemy's default (psycopg2)
            url = url.set(drivername=SCHEMES[driver])
        url = url.update_query_pairs([(k, v) for k, v in pairs if k not in SELECTOR_KEYS])
    selector = {}
    for key, value in pairs:
        if key in SELECTOR_KEYS:
            if key in selector:
                raise QbenchError(f"{where}: selector key {key!r} given twice", "give each selector key once")
            selector[key] = value
        elif scheme is None or url.get_backend_name() == "sqlite":
            raise QbenchError(f"{where}: unknown selector key {key!r}",
                              f"select runs with {', '.join(SELECTOR_KEYS)} (e.g. ?machine=this&latest=1)")
    return StoreSource(url, selector)

"""A private PostgreSQL server for the store's tests: initdb in a temporary folder, a free loopback port,
stopped and deleted when the test process exits; each test gets a fresh database on it.

Why not pytest-postgresql's ``postgresql_proc``: it runs ``pg_ctl`` as the current user, and CI runs
``.ci/run`` as root, which PostgreSQL refuses. Here, under root, the server runs as the ``postgres``
user (Debian's package creates it; ``nobody`` otherwise) through ``subprocess``'s ``user=``.

One server per test process (pytest-xdist: one per worker), started on first use. Where no server can
start, the tests skip with the reason; ``QBENCH_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns that
skip into a failure. ``QBENCH_TEST_POSTGRES_URL`` points the tests at an existing server instead
(a superuser's URL; a database is created per test).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

REQUIRE = "QBENCH_REQUIRE_POSTGRES"
EXISTING = "QBENCH_TEST_POSTGRES_URL"


class Unavailable(Exception):
    pass


def _bindir() -> Path:
    if found := shutil.which("pg_ctl"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise Unavailable("no pg_ctl on PATH or under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``initdb`` + ``pg_ctl start`` as an unprivileged user; ``url`` is a trusted superuser's."""

    def __init__(self):
        self.bindir = _bindir()
        self.user = None
        if os.geteuid() == 0:
            self.user = next((u for u in ("postgres", "nobody") if _exists(u)), None)
            if self.user is None:
                raise Unavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")
        self.root = Path(tempfile.mkdtemp(prefix="qbench-pg-"))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self._run("initdb", "-D", self.data, "-U", "qbench", "--auth=trust", "-E", "UTF8", "--no-sync")
        for attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            try:
                self._run("pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w", "-t", "60", "-o",
                          f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c full_page_writes=off", "start")
                break
            except Unavailable:
                if attempt == 2:
                    raise
        self.url = f"postgresql://qbench@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args) -> None:
        try:
            subprocess.run([self.bindir / tool, *map(str, args)], user=self.user, cwd=self.root, check=True,
                           capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            output = getattr(e, "stderr", "") or ""
            log = self.root / "server.log"
            if log.exists():
                output += log.read_text(errors="replace")[-2000:]
            raise Unavailable(f"{tool} failed: {e}\n{output}") from None

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except Unavailable:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


_server: Server | None = None
_failure: str | None = None


def admin_url() -> str:
    """A superuser URL of the shared server, started on first use."""
    global _server, _failure
    if os.environ.get(EXISTING):
        return os.environ[EXISTING]
    if _failure is None and _server is None:
        try:
            _server = Server()
            atexit.register(_server.stop)
        except Unavailable as e:
            _failure = str(e)
    if _server is None:
        raise Unavailable(_failure)
    return _server.url


def new_database() -> str:
    """A fresh, empty database on the server, as a postgresql:// URL."""
    import psycopg

    url = admin_url()
    name = f"qbench_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def postgres_or_skip() -> str:
    try:
        return new_database()
    except Unavailable as e:
        if os.environ.get(REQUIRE):
            pytest.fail(f"{REQUIRE} is set (CI) but no PostgreSQL server could be started: {e}", pytrace=False)
        pytest.skip(f"no PostgreSQL server could be started here: {e}")


@pytest.fixture
def postgres_url() -> str:
    return postgres_or_skip()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A new, empty store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return postgres_or_skip()

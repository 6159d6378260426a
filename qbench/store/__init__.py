"""The results store: every machine's runs in one database, so results outlive the laptop that made them.

JSON files copied around answer "how does this run compare with that one"; a team running the suite on
a dozen boards and on every commit also asks "what changed, where, since when". The store keeps whole
pytest-benchmark runs in an embedded SQLite file by default (no server) or a shared PostgreSQL database
for a fleet, in a normalized schema SQL can query (``schema.py``), and gives them back as the very same
documents (``document.py``), so ``qbench report``, ``gate`` and ``consistency`` produce the same tables
from a store as from the files. Modules: ``url`` (naming a store and a selection), ``schema`` and
``migrations/`` (Alembic), ``migrate`` (create/upgrade on open), ``db`` (concurrency-safe connections),
``document`` (lossless split/join), ``ingest`` (idempotent, transactional writes), ``query`` (selectors),
``api`` (what the CLI, the report and the pytest plugin call), ``commands`` (``qbench store``), ``session``
(``--qbench-store``). Importing this package costs nothing: SQLAlchemy loads only when a store is used.
"""

DEFAULT_STORE = ".benchmarks/qbench.db"  # next to pytest-benchmark's own .benchmarks/ storage

"""Alembic's environment for the store: always run by ``qbench.store.migrate`` on a connection it holds.

The caller has begun the transaction and taken the store's write lock (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL advisory lock), so concurrent first writers create the schema once and the version read
below happens under that lock.
"""

from alembic import context

from qbench.store.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=True)  # SQLite alters tables by copying them; batch mode does that
with context.begin_transaction():
    context.run_migrations()

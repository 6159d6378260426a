"""Alembic migrations of the results store (a package so that installs ship them; see ``migrate.py``)."""

"""Alembic revisions, oldest first: 0001 creates the schema of ``qbench/store/schema.py``."""

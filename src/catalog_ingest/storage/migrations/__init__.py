"""Alembic migration environment of catalog-ingest."""

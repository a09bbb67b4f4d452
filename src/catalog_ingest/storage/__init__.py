"""Persistence: SQLAlchemy Core tables, Alembic migrations and repositories (SQLite, PostgreSQL)."""

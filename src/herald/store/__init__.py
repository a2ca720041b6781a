"""SQL store: SQLite (embedded) and PostgreSQL (scaled out) behind SQLAlchemy Core.

Tables live in `tables`; the schema is created only by the Alembic migrations in `migrations`.
Repository modules take an open `Connection` and never commit: the caller's unit of work does.
The only package that talks to the database; it imports nothing of Herald but `domain`, and
returns plain data (frozen dataclasses) that its callers decode and decrypt themselves.
"""

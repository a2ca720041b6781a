"""Test databases, made one way: the real Alembic migrations build every schema.

- `sqlite_database(path, template)` — a migrated SQLite file at `path`, by copying `template`
  (a file migrated once per session, the fast way) or, without one, by running the migrations.
- `postgres_database(prefix)` — a context manager: a PostgreSQL database of its own on the test
  server (`HERALD_TEST_PG`, default `postgresql://postgres@127.0.0.1:5432/test`), migrated, and
  dropped on exit even if a process still holds connections to it.
- `truncate(url)` — empties every table, so one migrated database serves test after test.

The fixtures in `tests/conftest.py` are built from these: `sqlite_template`, `sqlite_url`,
`pg_database` (one per session, truncated between tests), `store_url` (both stores) and `pg_url`
(a database of the test's own, for real processes). Use a fixture where one fits and these
functions where a test needs a database of another shape; no test module builds a database with
`CREATE DATABASE` or `migrate.upgrade` of its own (the migrations' own tests excepted).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import sqlalchemy as sa

from herald.store import migrate
from herald.store.db import create_engine
from herald.store.tables import metadata

PG_ADMIN_DSN = os.environ.get("HERALD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def sqlite_database(path: Path, template: Path | None = None) -> str:
    """The URL of a migrated SQLite file at `path`: a copy of `template` if given (it must be
    migrated already), else migrated in place."""
    url = f"sqlite:///{path}"
    if template is None:
        migrate.upgrade(url)
    else:
        shutil.copy(template, path)
    return url


def postgres_url(name: str) -> str:
    """The URL of database `name` on the test server."""
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"


@contextlib.contextmanager
def postgres_database(prefix: str = "herald_test") -> Iterator[str]:
    """A migrated PostgreSQL database of its own (named `<prefix>_<pid>_<random>`), dropped on
    exit."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_url(name)
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate(url: str) -> None:
    """Empty every table of the PostgreSQL database at `url` (the schema stays)."""
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    finally:
        engine.dispose()

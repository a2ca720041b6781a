"""Dialect helpers for statements SQLite and PostgreSQL spell differently."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_ignoring_duplicates(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> int:
    """Insert `rows`, silently skipping those that clash on the unique `keys`; return inserted."""
    if not rows:
        return 0
    statement = _insert_ignoring(conn.dialect.name, table, tuple(keys))
    return conn.execute(statement, list(rows)).rowcount


@functools.cache
def _insert_ignoring(dialect_name: str, table: sa.Table, keys: tuple[str, ...]) -> sa.Insert:
    """Built once per (dialect, table, keys): on the delivery path (fan-out) building and
    hashing a fresh statement per call cost more than executing it."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement: sa.Insert = dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return statement


def lock_rows(
    query: sa.Select[Any], conn: Connection, *, skip_locked: bool, of: sa.Table | None = None
) -> sa.Select[Any]:
    """`FOR UPDATE [OF table] [SKIP LOCKED]` on PostgreSQL; SQLite's writer lock already
    serialises. Pass `of` when the query joins: only that table's rows are to be locked."""
    if conn.dialect.name != "postgresql":
        return query
    return query.with_for_update(skip_locked=skip_locked, of=of)

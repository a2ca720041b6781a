"""Dialect helpers for statements SQLite and PostgreSQL spell differently."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from herald.store.column_types import UTCDateTime


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


class BatchInsert:
    """`INSERT INTO table (columns) VALUES (…)` [ON CONFLICT (keys) DO NOTHING], as fixed SQL
    executed on the driver with bound parameters for a whole batch (executemany; psycopg
    pipelines it into one round trip).

    On the delivery path SQLAlchemy's per-row parameter processing for an executemany cost as
    much as the driver's work; this converts the few types involved itself, exactly as the
    columns' SQLAlchemy types would store them: UTC datetimes (naive text on SQLite,
    timestamptz on PostgreSQL), JSON as `json.dumps` text, string enums as their values.
    """

    def __init__(self, table: sa.Table, columns: Sequence[str], ignore: Sequence[str] = ()) -> None:
        self.columns = tuple(columns)
        self._json = {c for c in self.columns if isinstance(table.c[c].type, sa.JSON)}
        self._times = {c for c in self.columns if isinstance(table.c[c].type, UTCDateTime)}
        names = ", ".join(self.columns)
        conflict = f" ON CONFLICT ({', '.join(ignore)}) DO NOTHING" if ignore else ""
        self._sql = {
            # Names come from the schema (`tables.py`), never from input.
            style: f"INSERT INTO {table.name} ({names}) VALUES "  # noqa: S608
            f"({', '.join([mark] * len(self.columns))}){conflict}"
            for style, mark in (("sqlite", "?"), ("postgresql", "%s"))
        }

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert `rows` (dicts with every column); return how many were inserted."""
        if not rows:
            return 0
        sqlite = conn.dialect.name == "sqlite"
        params = [tuple(self._value(c, row[c], sqlite) for c in self.columns) for row in rows]
        result = conn.exec_driver_sql(self._sql["sqlite" if sqlite else "postgresql"], params)
        return int(result.rowcount)

    def _value(self, column: str, value: Any, sqlite: bool) -> Any:
        if value is None:
            return None
        if column in self._json:
            return json.dumps(value)
        if column in self._times:
            value = value.astimezone(dt.UTC)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value
        if isinstance(value, enum.Enum):
            return value.value
        return value

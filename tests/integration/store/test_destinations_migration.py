"""Migration 0006 keeps what was there: configs keep their project and channels their inline
settings, projects get no labels; downgrading drops only what the older schema cannot hold."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from herald.store import migrate
from herald.store.db import create_engine

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO projects (id, name, description, created_at, updated_at) "
                    "VALUES ('p1', 'shop', '', :now, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO callback_configs (id, project_id, name, enabled, events, "
                    "filters, locale, created_at, updated_at) VALUES ('c1', 'p1', 'room', true, "
                    "'[\"task_failed\"]', '{}', 'zh', :now, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO callback_channels (id, config_id, position, type, enabled, "
                    "secret_config, target_key, created_at, updated_at) VALUES ('ch1', 'c1', 0, "
                    "'custom', true, 'token', 'key', :now, :now)"
                ),
                {"now": NOW},
            )
    finally:
        engine.dispose()


def _rows(url: str) -> tuple[list[tuple[object, ...]], ...]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (
                list(conn.execute(sa.text("SELECT id, labels FROM projects")).all()),
                list(conn.execute(sa.text("SELECT id, project_id FROM callback_configs")).all()),
                list(
                    conn.execute(
                        sa.text("SELECT id, secret_config, destination_id FROM callback_channels")
                    ).all()
                ),
            )
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    migrate.downgrade(url, "0008")
    _seed(url)
    migrate.upgrade(url)
    projects, configs, channels = _rows(url)
    # Raw SQL: SQLite answers the JSON as text, PostgreSQL decodes it.
    assert [(p[0], json.loads(p[1]) if isinstance(p[1], str) else p[1]) for p in projects] == [
        ("p1", {})
    ]
    assert configs == [("c1", "p1")]
    assert channels == [("ch1", "token", None)]
    migrate.downgrade(url, "0008")
    migrate.upgrade(url)


def test_existing_configs_survive_on_sqlite(sqlite_url: str) -> None:
    _round_trip(sqlite_url)


@pytest.mark.postgres
def test_existing_configs_survive_on_postgresql(pg_url: str) -> None:
    _round_trip(pg_url)

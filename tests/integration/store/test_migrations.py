"""The migrations are the schema: they build exactly the tables the code declares, both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from herald.store import migrate
from herald.store.db import create_engine
from herald.store.tables import metadata


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_downgrade_and_upgrade_round_trip(sqlite_url: str) -> None:
    migrate.downgrade(sqlite_url, "base")
    assert migrate.current_heads(sqlite_url) == set()
    migrate.upgrade(sqlite_url)
    assert migrate.current_heads(sqlite_url) == migrate.code_heads()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_db(request: pytest.FixtureRequest) -> str:
    """A migrated database of the test's own (downgrading the shared one would break others)."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


def test_0004_keeps_existing_projects_and_tasks(own_db: str) -> None:
    migrate.downgrade(own_db, "0003")
    engine = create_engine(own_db)
    now = "2026-12-01 10:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO projects (id, name, description, created_at, updated_at) "
                    "VALUES ('p1', 'shop', '', :now, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO versions (id, project_id, name, description, created_at) "
                    "VALUES ('v1', 'p1', 'v1', '', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO tasks (id, project_id, version_id, type, strategy, environment, "
                    "canary_count, batch_size, max_failed, executor, driver, status, created_at, "
                    "revision) VALUES ('t1', 'p1', 'v1', 'deploy', 'rolling', 'staging', 0, 1, "
                    "0, '{\"type\": \"external\"}', 'external', 'pending', :now, 0)"
                ),
                {"now": now},
            )
        migrate.upgrade(own_db)
        with engine.connect() as conn:
            task = conn.execute(sa.text("SELECT environment, context, run_id FROM tasks")).one()
            envs = conn.execute(sa.text("SELECT environments FROM projects")).scalar_one()
    finally:
        engine.dispose()
    assert task.environment == "staging" and task.run_id is None
    assert _json(task.context) == {} and _json(envs) == []


def _json(value: Any) -> Any:
    """A JSON column as read raw: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value

"""The migrations are the schema: they build exactly the tables the code declares, both ways."""

from __future__ import annotations

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

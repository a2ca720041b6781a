"""Alembic environment: migrations run against the URL the caller configured."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from herald.store.db import create_engine
from herald.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _foreign_keys_off(connection)
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
    finally:
        engine.dispose()  # the connection with foreign keys off is never used again


def _foreign_keys_off(connection: Connection) -> None:
    """SQLite changes a constraint by rebuilding the table: a copy replaces the dropped
    original, which foreign keys forbid while other tables' rows reference it. They are off
    while migrating, as SQLite's documented procedure has it; the pragma only takes effect
    outside a transaction, so it goes straight to the driver before the migrations begin."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")


def _check_foreign_keys(connection: Connection) -> None:
    """Refuse to commit migrations that left a row pointing nowhere."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration left rows with broken references: {broken[:5]}")


run_migrations_online()

"""Run the Alembic migrations programmatically (`herald db upgrade`, tests, `herald serve`)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config

from herald.store.db import normalise_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would treat '%' in a URL-encoded password as a directive.
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    from herald.store.db import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def code_heads() -> set[str]:
    """The newest revision(s) this version of Herald ships."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def sqlite_project_names(path: Path) -> set[str] | None:
    """The project names in the SQLite file at `path`, read without changing the file; None
    if it is not a Herald database (not SQLite, or no projects table)."""
    uri = path.resolve().as_uri() + "?mode=ro"  # read only: a refused file stays as it was
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return {row[0] for row in conn.execute("SELECT name FROM projects")}
    except sqlite3.Error:
        return None

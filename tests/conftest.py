"""Shared fixtures: databases built by the real migrations, containers, API clients.

`store_url` is parametrised over SQLite and PostgreSQL; tests that take it (directly or through
`container`/`api`) run on both. Each PostgreSQL test session gets its own database, migrated
once and truncated between tests; each SQLite test gets a copy of a migrated file. Every
database comes from the one factory in `tests/databases.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald.bootstrap import Container
from herald.runtime.clock import SystemClock
from herald.runtime.settings import ExplicitSettings, Settings
from tests.databases import PG_ADMIN_DSN as PG_ADMIN_DSN  # where tests used to find it
from tests.databases import postgres_database, sqlite_database, truncate

ADMIN_TOKEN = "hrld_test-admin-token-0123456789abcdef"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "herald.db"
    sqlite_database(path)
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_database(tmp_path / "herald.db", request.getfixturevalue("sqlite_template"))
    url: str = request.getfixturevalue("pg_database")
    truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return sqlite_database(tmp_path / "herald.db", sqlite_template)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own, dropped after it: for tests whose real
    processes share a database (mark them `postgres`)."""
    with postgres_database() as url:
        yield url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, Any] = {  # ExplicitSettings' fields, some overridden by the test
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "secret_key": "test-only encryption key, 32+ characters long",
        "egress_allow": ["127.0.0.1/32"],
        "engine": {"lease_seconds": 2.0, "poll_interval": 0.2},
    }
    values.update(overrides)
    return ExplicitSettings(**values)


@pytest.fixture
def settings(store_url: str) -> Settings:
    return make_settings(store_url)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    c = Container.build(settings, SystemClock())
    c.tokens.ensure_bootstrap_admin(ADMIN_TOKEN)
    yield c
    c.close()

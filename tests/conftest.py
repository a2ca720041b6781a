"""Shared fixtures: databases built by the real migrations, containers, API clients.

`store_url` is parametrised over SQLite and PostgreSQL; tests that take it (directly or through
`container`/`api`) run on both. Each PostgreSQL test session gets its own database, migrated
once and truncated between tests; each SQLite test gets a copy of a migrated file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from herald.bootstrap import Container
from herald.runtime.clock import SystemClock
from herald.runtime.settings import ExplicitSettings, Settings
from herald.store import migrate
from herald.store.db import create_engine
from herald.store.tables import metadata

PG_ADMIN_DSN = os.environ.get("HERALD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_TOKEN = "hrld_test-admin-token-0123456789abcdef"


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "herald.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"herald_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    migrate.upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "herald.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "herald.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


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

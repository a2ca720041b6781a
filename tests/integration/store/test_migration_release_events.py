"""Migration 0005 on databases holding data: events with deliveries pointing at them survive
the rebuild of the events table, both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from herald.bootstrap import Container
from herald.domain.canary_steps import parse_steps
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.publishing.config_inputs import ConfigIn
from herald.runtime.clock import SystemClock
from herald.store import fanout, migrate
from herald.store.db import create_engine
from tests.conftest import make_settings


def _release_with_deliveries(url: str) -> str:
    """A three-step canary's events fanned out to a custom endpoint; the task's id."""
    c = Container.build(make_settings(url), SystemClock())
    try:
        project = c.catalog.create_project("shop", "")
        version = c.catalog.create_version(project.id, "v1", "")
        config = {
            "events": ["canary_started", "canary_step", "task_stopped"],
            "channels": [{"type": "custom", "config": {"url": "http://127.0.0.1:9/hook"}}],
        }
        c.callbacks.create(project.id, ConfigIn.model_validate(config), None)
        spec = TaskSpec(
            project_id=project.id,
            version_id=version.id,
            type=TaskType.DEPLOY,
            strategy=Strategy.CANARY,
            environment=Environment.PRODUCTION,
            hosts=["a", "b", "c", "d"],
            canary_steps=parse_steps([{"hosts": 1}, {"hosts": 2}, {"hosts": 3}]),
        )
        task = c.release.create_task(spec)
        c.release.report(task.id, [], None, None, step=2)
        c.release.stop(task.id, "enough")
        with c.db.transaction() as uow:
            fanout.fan_out(uow.conn, dt.datetime.now(dt.UTC), 3)
        return task.id
    finally:
        c.close()


def _rows(url: str, task_id: str) -> list[tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text(
                "SELECT e.event_type, COUNT(d.id) FROM events e JOIN deliveries d "
                "ON d.event_id = e.id WHERE e.task_id = :t GROUP BY e.event_type, e.seq "
                "ORDER BY e.seq"
            )
            return [(str(kind), int(n)) for kind, n in conn.execute(query, {"t": task_id})]
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    task_id = _release_with_deliveries(url)
    steps = [("canary_started", 1), ("canary_step", 1), ("canary_step", 1), ("task_stopped", 1)]
    assert _rows(url, task_id) == steps
    migrate.downgrade(url, "0004")
    kept = [("canary_started", 1), ("canary_step_1", 1), ("canary_step_2", 1), ("task_stopped", 1)]
    assert _rows(url, task_id) == kept
    migrate.upgrade(url)
    assert _rows(url, task_id) == steps
    c = Container.build(make_settings(url), SystemClock())
    try:
        assert c.release.get_task(task_id).emitted_steps == {1, 2}
    finally:
        c.close()


def test_events_with_deliveries_survive_the_migration_on_sqlite(sqlite_url: str) -> None:
    _round_trip(sqlite_url)


@pytest.mark.postgres
def test_events_with_deliveries_survive_the_migration_on_postgres(pg_url: str) -> None:
    _round_trip(pg_url)

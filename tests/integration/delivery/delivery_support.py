"""Support for delivery tests: a container on the test's database, its worker on the test's
loop, configs pointing at the fake platforms, events produced by real task transitions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from herald.bootstrap import Container
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.publishing.config_inputs import ConfigIn

ALL_EVENTS = [
    "canary_started",
    "canary_completed",
    "full_completed",
    "task_failed",
    "task_stopped",
    "long_running",
]


def make_project(c: Container, name: str = "shop") -> tuple[str, str]:
    project = c.catalog.create_project(name, "")
    version = c.catalog.create_version(project.id, "v1.2.3", "")
    return project.id, version.id


def add_config(c: Container, project_id: str, channels: list[dict[str, Any]], **extra: Any) -> str:
    body = ConfigIn.model_validate(
        {"name": "test", "events": ALL_EVENTS, "channels": channels, **extra}
    )
    return c.callbacks.create(project_id, body, None).id


def add_config_saved_earlier(c: Container, project_id: str, settings: list[dict[str, Any]]) -> str:
    """A config of custom channels whose `settings` an earlier Herald stored before today's
    save-time rules (host spelling, retry interval, …): saved with placeholder URLs (one target
    each), then the stored settings replaced as they are."""
    import sqlalchemy as sa

    from herald.store.tables import callback_channels

    placeholders = [custom_channel(f"http://legacy-{i}.invalid/hook") for i in range(len(settings))]
    config_id = add_config(c, project_id, placeholders)
    channels = c.callbacks.get(config_id).channels
    with c.db.transaction() as uow:
        for channel, raw in zip(channels, settings, strict=True):
            policy = {
                "retries": raw.get("retry_count", 3),
                "interval": float(raw.get("retry_interval", 5)),
                "timeout": float(raw.get("timeout", 10)),
            }
            uow.execute(
                sa.update(callback_channels)
                .where(callback_channels.c.id == channel.id)
                .values(secret_config=c.keyring.encrypt_json(raw), policy=policy)
            )
    return config_id


def custom_channel(url: str, **config: Any) -> dict[str, Any]:
    return {"type": "custom", "config": {"url": url, **config}}


def emit_stopped_tasks(c: Container, project_id: str, version_id: str, n: int) -> list[str]:
    """n external tasks stopped at once: one task_stopped event each."""
    ids = []
    for i in range(n):
        spec = TaskSpec(
            project_id=project_id,
            version_id=version_id,
            type=TaskType.DEPLOY,
            strategy=Strategy.ROLLING,
            environment=Environment.PRODUCTION,
            hosts=[f"h{i}"],
            executor={"type": "external"},
        )
        task = c.release.create_task(spec)
        c.release.stop(task.id, "test")
        ids.append(task.id)
    return ids


@contextlib.asynccontextmanager
async def running_worker(c: Container, owner: str | None = None) -> AsyncIterator[None]:
    job = asyncio.create_task(c.worker(owner).run())
    try:
        yield
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


async def eventually(
    check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Poll `check` (run in a thread: it may query the store) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


def delivery_rows(c: Container, **where: Any) -> list[Any]:
    import sqlalchemy as sa

    from herald.store.tables import deliveries

    query = sa.select(deliveries).order_by(deliveries.c.id)
    for key, value in where.items():
        query = query.where(getattr(deliveries.c, key) == value)
    with c.db.read() as conn:
        return list(conn.execute(query))


def attempt_rows(c: Container, delivery_id: str | None = None) -> list[Any]:
    import sqlalchemy as sa

    from herald.store.tables import delivery_attempts

    query = sa.select(delivery_attempts).order_by(delivery_attempts.c.id)
    if delivery_id:
        query = query.where(delivery_attempts.c.delivery_id == delivery_id)
    with c.db.read() as conn:
        return list(conn.execute(query))


def all_final(c: Container) -> bool:
    rows = delivery_rows(c)
    return bool(rows) and all(r.status != "pending" for r in rows)

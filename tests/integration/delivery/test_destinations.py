"""Destinations and organisation rules, delivered: one destination used by three configs in two
projects takes one secret rotation for all of them and one rate limit across configs and
workers; an organisation rule delivers a project's production failures though the project has
no config of its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from herald.bootstrap import Container
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.fakeplatforms import Behaviour, running_fake_platforms
from herald.fakeplatforms.records import Platform
from herald.publishing.config_inputs import ConfigIn
from herald.publishing.destination_inputs import DestinationIn
from herald.publishing.destination_service import describe_destination
from tests.conftest import make_settings
from tests.integration.delivery.delivery_support import (
    all_final,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)

TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab3f9a"
OLD_SECRET = "SEC" + "a1" * 32
NEW_SECRET = "SEC" + "b2" * 32


def destination_body(url: str, secret: str, **extra: Any) -> DestinationIn:
    config = {"webhook_url": url, "sign_secret": secret}
    return DestinationIn.model_validate(
        {"name": "release-room", "type": "dingtalk", "config": config, **extra}
    )


def use(c: Container, project_id: str | None, destination_id: str, **extra: Any) -> str:
    body = ConfigIn.model_validate(
        {"events": ["task_stopped"], "channels": [{"destination_id": destination_id}], **extra}
    )
    return c.callbacks.create(project_id, body, None).id


@contextlib.contextmanager
def three_configs_on_one_destination(
    c: Container, url: str, **extra: Any
) -> Iterator[tuple[str, tuple[str, str], tuple[str, str]]]:
    """An organisation destination; project A uses it in two configs, project B in one."""
    destination = c.destinations.create(None, destination_body(url, OLD_SECRET, **extra), None)
    a, b = make_project(c, "shop"), make_project(c, "search")
    use(c, a[0], destination.id, name="release-room")
    use(c, a[0], destination.id, name="on-call")
    use(c, b[0], destination.id, name="release-room")
    yield destination.id, a, b


@pytest.mark.asyncio
async def test_one_rotation_reaches_every_config_using_the_destination(
    container: Container,
) -> None:
    c = container
    async with running_fake_platforms() as fake:
        fake.add_dingtalk_robot(TOKEN, secret=OLD_SECRET)
        url = fake.dingtalk_url(TOKEN)
        with three_configs_on_one_destination(c, url) as (destination_id, a, b):
            async with running_worker(c):
                emit_stopped_tasks(c, *a, 1)
                emit_stopped_tasks(c, *b, 1)
                await eventually(lambda: len(delivery_rows(c)) == 3 and all_final(c))
                # The robot's secret is rotated on DingTalk, then once in Herald.
                fake.add_dingtalk_robot(TOKEN, secret=NEW_SECRET)
                shown = describe_destination(c.destinations.get(destination_id))
                assert OLD_SECRET not in str(shown)
                edited = {**shown["config"], "sign_secret": NEW_SECRET}
                body = {"name": shown["name"], "type": "dingtalk", "config": edited}
                c.destinations.update(destination_id, DestinationIn.model_validate(body), None)
                emit_stopped_tasks(c, *a, 1)
                emit_stopped_tasks(c, *b, 1)
                await eventually(lambda: len(delivery_rows(c)) == 6 and all_final(c))
        received = fake.received(Platform.DINGTALK, TOKEN)
    # Every request passed the fake's signature check: three with the old secret, three
    # (one per config, through the worker that had cached the old settings) with the new.
    assert [r.delivered for r in received] == [True] * 6, [r.response for r in received]
    assert {r.status for r in delivery_rows(c)} == {"success"}
    per_config = sorted(r.config_id for r in delivery_rows(c))
    assert len(set(per_config)) == 3 and all(per_config.count(x) == 2 for x in per_config)


@contextlib.asynccontextmanager
async def workers_of(*containers: Container) -> AsyncIterator[None]:
    """One worker per container: separate connection pools, as separate processes have."""
    async with contextlib.AsyncExitStack() as stack:
        for i, c in enumerate(containers):
            await stack.enter_async_context(running_worker(c, f"worker-{i}"))
        yield


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_burst_through_three_configs_keeps_the_destinations_limit_across_workers(
    pg_url: str,
) -> None:
    """DingTalk admits 4 messages per 2 s here and locks the robot for 10 minutes past that.
    The destination allows 4 per 3 s (a margin for a loaded machine); 12 notifications through three
    configs, claimed by two workers with their own connections, all arrive, none refused."""
    first = Container.build(make_settings(pg_url, worker={"poll_interval": 0.1}))
    second = Container.build(make_settings(pg_url, worker={"poll_interval": 0.1}))
    try:
        async with running_fake_platforms() as fake:
            fake.set_limits(dingtalk_per_window=4, dingtalk_window_s=2.0)
            fake.add_dingtalk_robot(TOKEN, secret=OLD_SECRET)
            limit = {"rate_limit": {"count": 4, "per_seconds": 3.0}}
            with three_configs_on_one_destination(first, fake.dingtalk_url(TOKEN), **limit) as (
                _,
                a,
                b,
            ):
                emit_stopped_tasks(first, *a, 4)  # two configs: 8 notifications
                emit_stopped_tasks(first, *b, 4)  # one config: 4
                async with workers_of(first, second):
                    await eventually(
                        lambda: len(delivery_rows(first)) == 12 and all_final(first), timeout=120
                    )
            received = fake.received(Platform.DINGTALK, TOKEN)
            rows = delivery_rows(first)
    finally:
        first.close()
        second.close()
    assert len(received) == 12 and all(r.delivered for r in received), [r.code for r in received]
    assert {r.status for r in rows} == {"success"} and {r.kind for r in rows} == {"event"}
    times = sorted(r.received_at for r in received)
    # The limit held: no 5 requests within 2 s, so 12 took at least two further windows.
    assert all(later - earlier >= 2.0 for earlier, later in zip(times, times[4:], strict=False))
    assert {r.lease_owner for r in rows} == {None}


def failed_task(c: Container, project_id: str, version_id: str, environment: str) -> str:
    spec = TaskSpec(
        project_id=project_id,
        version_id=version_id,
        type=TaskType.DEPLOY,
        strategy=Strategy.ROLLING,
        environment=environment,
        hosts=["web-1"],
        executor={"type": "external"},
    )
    task = c.release.create_task(spec)
    c.release.start(task.id)
    c.release.report(task.id, [], "failed", "disk full")
    return task.id


@pytest.mark.asyncio
async def test_an_organisation_rule_delivers_production_failures_of_a_project_without_configs(
    container: Container,
) -> None:
    c = container
    async with running_fake_platforms() as fake:
        fake.set_endpoint("sre", Behaviour.ok())
        rule = ConfigIn.model_validate(
            {
                "name": "production failures to SRE",
                "events": ["task_failed"],
                "filters": {"environments": ["production"]},
                "project_labels": {"tier": "critical"},
                "channels": [{"type": "custom", "config": {"url": fake.endpoint_url("sre")}}],
            }
        )
        rule_id = c.callbacks.create(None, rule, None).id
        payments, other = make_project(c, "payments"), make_project(c, "docs")
        c.catalog.set_labels(payments[0], {"tier": "critical"}, None)
        assert [r.id for r in c.callbacks.rules_reaching(payments[0])] == [rule_id]
        assert c.callbacks.rules_reaching(other[0]) == []
        staging = failed_task(c, *payments, Environment.STAGING)
        production = failed_task(c, *payments, Environment.PRODUCTION)
        failed_task(c, *other, Environment.PRODUCTION)  # not labelled: not reached
        async with running_worker(c):
            await eventually(lambda: all_final(c))
            await eventually(lambda: fake.endpoint_stats("sre").requests >= 1)
        received = fake.received(Platform.ENDPOINT, "sre")
    assert [r.json["task"]["id"] for r in received] == [production]
    assert received[0].json["project"]["id"] == payments[0]
    assert received[0].json["event_type"] == "task_failed"
    assert received[0].json["environment"] == "production"
    rows = delivery_rows(c)
    assert [(r.project_id, r.config_id, r.task_id) for r in rows] == [
        (payments[0], rule_id, production)
    ]
    assert staging not in {r.task_id for r in rows}

"""Slack, Discord and Teams through the delivery worker against their fakes: Herald paces each
webhook so the platform never has to answer 429, and a 429 it does get is retried no earlier
than the wait the platform gave."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from herald.bootstrap import Container
from herald.fakeplatforms import FakePlatforms, running_fake_platforms
from herald.fakeplatforms.records import Platform
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    attempt_rows,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

SLACK_PATH = "T1/B1/pacing-secret"
DISCORD = ("4242", "pacing-token")
TEAMS = ("pacing-flow", "pacing-sig")


def slack(fake: FakePlatforms) -> tuple[dict[str, Any], Platform, str]:
    fake.add_slack_webhook(SLACK_PATH, per_second=1)
    channel = {"type": "slack", "config": {"webhook_url": fake.slack_url(SLACK_PATH)}}
    return channel, Platform.SLACK, SLACK_PATH


def discord(fake: FakePlatforms) -> tuple[dict[str, Any], Platform, str]:
    fake.add_discord_webhook(*DISCORD, per_window=10)
    channel = {"type": "discord", "config": {"webhook_url": fake.discord_url(*DISCORD)}}
    return channel, Platform.DISCORD, DISCORD[0]


def teams(fake: FakePlatforms) -> tuple[dict[str, Any], Platform, str]:
    fake.add_teams_workflow(*TEAMS)
    channel = {"type": "teams", "config": {"webhook_url": fake.teams_url(*TEAMS)}}
    return channel, Platform.TEAMS, TEAMS[0]


Setup = Callable[[FakePlatforms], tuple[dict[str, Any], Platform, str]]


def force_429(fake: FakePlatforms, platform: Platform, key: str, seconds: float) -> None:
    if platform is Platform.SLACK:
        fake.force_slack(key, 429, "rate_limited", retry_after=seconds)
    elif platform is Platform.DISCORD:
        body = {"message": "You are being rate limited.", "retry_after": seconds, "global": False}
        fake.force_discord(key, 429, body)
    else:
        error = {"error": {"code": "WorkflowRequestsThrottled", "message": "Rate limit"}}
        fake.force_teams(key, 429, error, retry_after=seconds)


@pytest.mark.parametrize("setup", [slack, discord, teams], ids=["slack", "discord", "teams"])
async def test_herald_paces_so_the_platform_never_answers_429(
    container: Container, setup: Setup
) -> None:
    async with running_fake_platforms() as fake:
        channel, platform, key = setup(fake)
        project_id, version_id = make_project(container, "paced")
        add_config(container, project_id, [channel])
        async with running_worker(container):
            emit_stopped_tasks(container, project_id, version_id, 6)
            await eventually(lambda: all_final(container), timeout=60)
        received = fake.received(platform, key)
    assert received and all(r.status in (200, 202, 204) for r in received)
    assert all(d.status == "success" for d in delivery_rows(container))


@pytest.mark.parametrize("setup", [slack, discord, teams], ids=["slack", "discord", "teams"])
async def test_a_429_is_retried_after_the_wait_it_gave(container: Container, setup: Setup) -> None:
    async with running_fake_platforms() as fake:
        channel, platform, key = setup(fake)
        force_429(fake, platform, key, 2.0)
        project_id, version_id = make_project(container, "throttled")
        add_config(container, project_id, [channel])
        async with running_worker(container):
            emit_stopped_tasks(container, project_id, version_id, 1)
            await eventually(lambda: all_final(container), timeout=60)
        statuses = [r.status for r in fake.received(platform, key)]
    assert statuses[0] == 429 and statuses[-1] in (200, 202, 204)
    (delivery,) = delivery_rows(container)
    assert delivery.status == "success" and delivery.attempts == 2
    first, second = attempt_rows(container, delivery.id)
    assert first.outcome == "rate_limited"
    assert (second.created_at - first.created_at).total_seconds() >= 2.0


async def test_a_permanent_error_is_not_retried_and_its_long_code_is_kept(
    container: Container,
) -> None:
    async with running_fake_platforms() as fake:
        channel, platform, key = slack(fake)
        fake.force_slack(key, 403, "posting_to_general_channel_denied")
        project_id, version_id = make_project(container, "denied")
        add_config(container, project_id, [channel])
        async with running_worker(container):
            emit_stopped_tasks(container, project_id, version_id, 1)
            await eventually(lambda: all_final(container), timeout=30)
        assert len(fake.received(platform, key)) == 1
    (delivery,) = delivery_rows(container)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    (attempt,) = attempt_rows(container, delivery.id)
    # Slack's code is 33 characters; the history keeps the first 32.
    assert attempt.platform_code == "posting_to_general_channel_denie"
    assert "only admins may post" in attempt.error

"""Slack, Discord and Teams against their fakes: the documented errors come back as the
platform sends them and are judged permanent or retryable; sending faster than the
platform allows is answered 429 with the wait, which the judge passes on."""

from __future__ import annotations

import aiohttp
import pytest

from herald.channels.base import OutcomeKind
from herald.channels.channel_config import parse_channel_config
from herald.fakeplatforms import FakePlatforms, ManualClock
from herald.fakeplatforms.records import Platform
from tests.integration.channels.test_against_fakes import deliver
from tests.unit.channels.support import view

pytestmark = pytest.mark.asyncio

SLACK_PATH = "T0001/B0002/slack-secret-0123"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("channel_not_found", 404),
        ("channel_is_archived", 410),
        ("action_prohibited", 403),
        ("invalid_token", 403),
        ("no_team", 404),
    ],
)
async def test_slack_states_are_permanent(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock, state: str, status: int
) -> None:
    fake.add_slack_webhook(SLACK_PATH, state=state)
    cfg = parse_channel_config("slack", {"webhook_url": fake.slack_url(SLACK_PATH)})
    outcome = await deliver(http, cfg, view("task_failed"), clock())
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, state)
    (record,) = fake.received(Platform.SLACK, SLACK_PATH)
    assert record.status == status


async def test_slack_unknown_webhook_is_no_service(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    cfg = parse_channel_config("slack", {"webhook_url": fake.slack_url("T9/B9/gone")})
    outcome = await deliver(http, cfg, view("task_failed"), clock())
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "no_service")


async def test_slack_contract_errors_are_permanent(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_slack_webhook(SLACK_PATH)
    url = fake.slack_url(SLACK_PATH)
    answers = []
    for body in (b"not json", b'{"text": ""}', b'{"blocks": [{"type": "header"}]}'):
        async with http.post(url, data=body) as response:
            answers.append((response.status, await response.text()))
    assert answers == [(400, "invalid_payload"), (400, "no_text"), (400, "invalid_blocks")]


async def test_slack_one_per_second_then_429_with_retry_after(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_slack_webhook(SLACK_PATH, per_second=1)
    cfg = parse_channel_config("slack", {"webhook_url": fake.slack_url(SLACK_PATH)})
    first = await deliver(http, cfg, view("canary_started"), clock())
    second = await deliver(http, cfg, view("canary_completed"), clock())
    clock.advance(1.01)
    third = await deliver(http, cfg, view("full_completed"), clock())
    assert first.kind is OutcomeKind.DELIVERED and third.kind is OutcomeKind.DELIVERED
    assert (second.kind, second.rate_limited, second.retry_after) == (
        OutcomeKind.RETRYABLE,
        True,
        1.0,
    )

"""Slack, Discord and Teams against their fakes: the documented errors come back as the
platform sends them and are judged permanent or retryable; sending faster than the
platform allows is answered 429 with the wait, which the judge passes on."""

from __future__ import annotations

import json

import aiohttp
import pytest

from herald.channels.base import OutcomeKind
from herald.channels.channel_config import ChannelConfig, parse_channel_config
from herald.channels.discord import DiscordSender
from herald.channels.teams import TeamsSender
from herald.fakeplatforms import FakePlatforms, ManualClock
from herald.fakeplatforms.records import Platform
from tests.integration.channels.test_against_fakes import deliver
from tests.unit.channels.support import view

pytestmark = pytest.mark.asyncio

SLACK_PATH = "T0001/B0002/slack-secret-0123"
DISCORD_ID, DISCORD_TOKEN = "1234567890", "discord-token-abc"


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


def discord(fake: FakePlatforms, token: str = DISCORD_TOKEN) -> ChannelConfig:
    url = fake.discord_url(DISCORD_ID, token)
    return parse_channel_config("discord", {"webhook_url": url})


@pytest.mark.parametrize(
    ("token", "registered", "status", "code"),
    [(DISCORD_TOKEN, False, 404, "10015"), ("wrong-token", True, 401, "50027")],
)
async def test_discord_gone_or_wrong_webhooks_are_permanent(
    fake: FakePlatforms,
    http: aiohttp.ClientSession,
    clock: ManualClock,
    token: str,
    registered: bool,
    status: int,
    code: str,
) -> None:
    if registered:
        fake.add_discord_webhook(DISCORD_ID, DISCORD_TOKEN)
    outcome = await deliver(http, discord(fake, token), view("task_failed"), clock())
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, code)
    (record,) = fake.received(Platform.DISCORD, DISCORD_ID)
    assert record.status == status


async def test_discord_contract_errors_are_permanent(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_discord_webhook(DISCORD_ID, DISCORD_TOKEN)
    url = fake.discord_url(DISCORD_ID, DISCORD_TOKEN)
    sender = DiscordSender()
    outcomes = []
    for body in (b"{", b'{"content": ""}', json.dumps({"content": "x" * 2001}).encode()):
        async with http.post(url, data=body) as response:
            outcomes.append(sender.judge(response.status, {}, await response.read()).code)
    assert outcomes == ["50109", "50006", "50035"]


async def test_discord_confirms_with_the_created_message_and_pings_only_the_configured(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_discord_webhook(DISCORD_ID, DISCORD_TOKEN)
    rules = [{"events": ["task_failed"], "users": ["42"]}]
    cfg = parse_channel_config(
        "discord",
        {"webhook_url": fake.discord_url(DISCORD_ID, DISCORD_TOKEN), "mentions": rules},
    )
    outcome = await deliver(http, cfg, view("task_failed", reason="@everyone look"), clock())
    assert (outcome.kind, outcome.code) == (OutcomeKind.DELIVERED, "200")
    (record,) = fake.received(Platform.DISCORD, DISCORD_ID)
    assert record.query == {"wait": "true"} and record.response["id"]
    assert record.json["content"] == "<@42>"
    assert record.json["allowed_mentions"] == {"parse": [], "users": ["42"], "roles": []}


async def test_discord_ten_per_ten_seconds_then_429_with_the_body_wait(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_discord_webhook(DISCORD_ID, DISCORD_TOKEN, per_window=10)
    cfg = discord(fake)
    outcomes = [await deliver(http, cfg, view("long_running"), clock()) for _ in range(11)]
    assert all(o.kind is OutcomeKind.DELIVERED for o in outcomes[:10])
    assert (outcomes[10].kind, outcomes[10].rate_limited, outcomes[10].retry_after) == (
        OutcomeKind.RETRYABLE,
        True,
        10.0,
    )
    clock.advance(10.01)
    assert (await deliver(http, cfg, view("long_running"), clock())).kind is OutcomeKind.DELIVERED


TEAMS_FLOW, TEAMS_SIG = "flow-0123", "sig-0123456789"


def teams(fake: FakePlatforms, sig: str = TEAMS_SIG) -> ChannelConfig:
    return parse_channel_config("teams", {"webhook_url": fake.teams_url(TEAMS_FLOW, sig)})


async def test_teams_accepts_the_adaptive_card(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_teams_workflow(TEAMS_FLOW, TEAMS_SIG)
    outcome = await deliver(http, teams(fake), view("task_failed"), clock())
    assert (outcome.kind, outcome.code) == (OutcomeKind.DELIVERED, "202")
    (record,) = fake.received(Platform.TEAMS, TEAMS_FLOW)
    (attachment,) = record.json["attachments"]
    assert attachment["content"]["type"] == "AdaptiveCard" and record.delivered


@pytest.mark.parametrize(
    ("registered", "sig", "code"),
    [
        (False, TEAMS_SIG, "WorkflowNotFound"),
        (True, "wrong-signature", "DirectApiInvalidAuthorizationSignature"),
    ],
)
async def test_teams_gone_or_wrongly_signed_workflows_are_permanent(
    fake: FakePlatforms,
    http: aiohttp.ClientSession,
    clock: ManualClock,
    registered: bool,
    sig: str,
    code: str,
) -> None:
    if registered:
        fake.add_teams_workflow(TEAMS_FLOW, TEAMS_SIG)
    outcome = await deliver(http, teams(fake, sig), view("task_failed"), clock())
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, code)


async def test_teams_refuses_what_is_not_a_card(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_teams_workflow(TEAMS_FLOW, TEAMS_SIG)
    url = fake.teams_url(TEAMS_FLOW, TEAMS_SIG)
    sender = TeamsSender()
    codes = []
    for body in ({"text": "hi"}, {"type": "message", "attachments": [{"contentType": "x"}]}):
        async with http.post(url, json=body) as response:
            codes.append(sender.judge(response.status, {}, await response.read()).code)
    assert codes == ["TriggerInputSchemaMismatch", "InvalidTemplate"]


async def test_teams_throttles_past_four_a_second(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.set_limits(teams_per_second=4)
    fake.add_teams_workflow(TEAMS_FLOW, TEAMS_SIG)
    cfg = teams(fake)
    outcomes = [await deliver(http, cfg, view("long_running"), clock()) for _ in range(5)]
    assert [o.kind for o in outcomes[:4]] == [OutcomeKind.DELIVERED] * 4
    assert (outcomes[4].kind, outcomes[4].rate_limited, outcomes[4].retry_after) == (
        OutcomeKind.RETRYABLE,
        True,
        1.0,
    )

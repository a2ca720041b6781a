"""The apprise channel with `json://127.0.0.1:<port>/…` against the fake endpoint: Apprise runs
in a thread off the loop, is judged by its success flag only, is bounded by the request's
timeout and cannot reach an address the egress guard refuses."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from herald.channels.apprise_url import AppriseConfig, AppriseSender
from herald.channels.base import Outcome, OutcomeKind
from herald.channels.capabilities import TransportAnswer
from herald.channels.channel_config import parse_channel_config
from herald.fakeplatforms import Behaviour, FakePlatforms
from herald.fakeplatforms.records import Platform
from herald.security.egress import EgressPolicy
from tests.unit.channels.support import NOW, view

LOOPBACK = EgressPolicy(["127.0.0.1/32"])


def settings(fake: FakePlatforms, name: str = "apprise") -> AppriseConfig:
    url = fake.endpoint_url(name).replace("http://", "json://")
    parsed = parse_channel_config("apprise", {"url": url})
    assert isinstance(parsed, AppriseConfig)
    return parsed


async def send(
    config: AppriseConfig, timeout: float = 5.0, policy: EgressPolicy = LOOPBACK
) -> tuple[Outcome | None, TransportAnswer]:
    sender = AppriseSender()
    request = sender.render(view("task_failed"), config, now=NOW, default_timeout=timeout)
    answer = await sender.transmit(request, config, egress=policy)
    if answer.status is None:
        return None, answer
    return sender.judge(answer.status, answer.headers, answer.body), answer


@pytest.mark.asyncio
async def test_apprise_delivers_through_its_json_plugin(fake: FakePlatforms) -> None:
    fake.set_endpoint("apprise", Behaviour.ok(200))
    outcome, _ = await send(settings(fake))
    assert outcome is not None and (outcome.kind, outcome.code) == (OutcomeKind.DELIVERED, "ok")
    (record,) = fake.received(Platform.ENDPOINT, "apprise")
    assert record.json["title"] == "发布通知：发布失败"
    assert "原因: 2 host(s) failed" in record.json["message"]
    assert record.json["type"] == "failure"


@pytest.mark.asyncio
async def test_a_failure_apprise_reports_is_retried(fake: FakePlatforms) -> None:
    fake.set_endpoint("apprise", Behaviour.with_status(500))
    outcome, _ = await send(settings(fake))
    assert outcome is not None and (outcome.kind, outcome.code) == (OutcomeKind.RETRYABLE, "failed")
    assert len(fake.received(Platform.ENDPOINT, "apprise")) == 1  # Apprise itself did not retry


@pytest.mark.asyncio
async def test_a_hanging_service_is_cut_off_at_the_timeout(fake: FakePlatforms) -> None:
    fake.set_endpoint("apprise", Behaviour.hang(30))
    started = time.monotonic()
    outcome, answer = await send(settings(fake), timeout=0.5)
    elapsed = time.monotonic() - started
    # Apprise's socket timeout (set to the request's) or Herald's deadline ends the call.
    timed_out = outcome is None and "timed out" in (answer.error or "")
    assert timed_out or (outcome is not None and outcome.kind is OutcomeKind.RETRYABLE)
    assert elapsed < 10  # far below the 30 s hang


@pytest.mark.asyncio
async def test_the_egress_guard_refuses_a_loopback_target(fake: FakePlatforms) -> None:
    fake.set_endpoint("apprise", Behaviour.ok(200))
    _, answer = await send(settings(fake), policy=EgressPolicy())
    assert answer.blocked and "loopback" in (answer.error or "")
    assert not fake.received(Platform.ENDPOINT, "apprise")


def test_a_url_apprise_cannot_load_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="Apprise cannot load this URL"):
        parse_channel_config("apprise", {"url": "nosuchservice://token"})

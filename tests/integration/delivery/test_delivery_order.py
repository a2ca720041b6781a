"""Order and per-target limits: one task's notifications reach each destination in event order
whatever happens to the earlier ones, and no destination ever has more requests in flight than
its limit allows, across workers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from herald.bootstrap import Container
from herald.delivery.attempts import orphan_record
from herald.delivery.worker import claim_policy
from herald.domain.delivery import AttemptOutcome, DeliveryStatus
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.engine.releases import HostReport
from herald.fakeplatforms import Behaviour, FakePlatforms, ManualClock, running_fake_platforms
from herald.fakeplatforms.records import Platform, RecordedRequest
from herald.runtime.clock import FakeClock
from herald.store import claims, results
from herald.store.claims import Claimed
from herald.store.fanout import fan_out
from tests.conftest import make_settings
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    custom_channel,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
)

CANARY_EVENTS = ["canary_started", "canary_completed", "full_completed"]
TITLES = {"金丝雀发布开始": "canary_started", "金丝雀发布完成": "canary_completed"}
TITLES["全部发布完成"] = "full_completed"


@contextlib.contextmanager
def clocked_container(store_url: str, clock: FakeClock, **settings: Any) -> Iterator[Container]:
    c = Container.build(make_settings(store_url, **settings), clock)
    try:
        yield c
    finally:
        c.close()


@contextlib.asynccontextmanager
async def workers(c: Container, count: int) -> AsyncIterator[None]:
    jobs = [asyncio.create_task(c.worker(f"worker-{i}").run()) for i in range(count)]
    try:
        yield
    finally:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


def canary_through(c: Container, project_id: str, version_id: str) -> str:
    """An external canary task taken to success at once: three events wait for delivery."""
    spec = TaskSpec(
        project_id=project_id,
        version_id=version_id,
        type=TaskType.DEPLOY,
        strategy=Strategy.CANARY,
        environment=Environment.PRODUCTION,
        hosts=["web-1", "web-2", "web-3"],
        canary_count=1,
        executor={"type": "external"},
    )
    task = c.release.create_task(spec)
    c.release.start(task.id)
    c.release.report(task.id, [HostReport("web-1", True)], None, None)
    c.release.promote(task.id)
    c.release.report(task.id, [HostReport("web-2", True), HostReport("web-3", True)], None, None)
    return task.id


async def post(url: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        await response.read()


async def use_up_quotas(fake: FakePlatforms) -> None:
    """Send each chat destination the one message its window allows, as another system sharing
    the robot would: Herald's first message then gets the platform's rate-limit answer."""
    text = {"msgtype": "text", "text": {"content": "someone else"}}
    await post(fake.feishu_url("fs"), {"msg_type": "text", "content": {"text": "someone else"}})
    await post(fake.dingtalk_url("dt"), text)
    await post(fake.wecom_bot_url("wb"), text)
    async with aiohttp.ClientSession() as session:
        query = {"corpid": "corp", "corpsecret": "app-secret-0123456789"}
        async with session.get(f"{fake.base_url}/cgi-bin/gettoken", params=query) as r:
            token = (await r.json())["access_token"]
        body = {**text, "touser": "alice", "agentid": 1000002}
        url = f"{fake.base_url}/cgi-bin/message/send?access_token={token}"
        async with session.post(url, json=body) as r:
            await r.read()


def chat_channels(fake: FakePlatforms) -> list[dict[str, Any]]:
    return [
        {"type": "feishu", "config": {"webhook_url": fake.feishu_url("fs")}},
        {"type": "dingtalk", "config": {"webhook_url": fake.dingtalk_url("dt")}},
        {"type": "wecom_bot", "config": {"webhook_url": fake.wecom_bot_url("wb")}},
        {
            "type": "wechat",
            "config": {
                "corp_id": "corp",
                "agent_id": 1000002,
                "secret": "app-secret-0123456789",
                "to_user": "alice",
                "api_base": fake.wecom_api_base,
            },
        },
    ]


def read_in_room(records: list[RecordedRequest]) -> list[str]:
    """The events a room shows, in the order its messages were accepted."""
    shown = []
    for record in records:
        if not record.delivered:
            continue
        text = json.dumps(record.json, ensure_ascii=False)
        shown += [event for title, event in TITLES.items() if title in text]
    return shown


def register_chat(fake: FakePlatforms, *, tight: bool) -> None:
    """Register the chat destinations, with one message per window while `tight`, else with
    the published limits (their rate history and any penalty are kept)."""
    one = 1 if tight else None
    fake.add_feishu_bot("fs", per_minute=one)
    fake.add_dingtalk_robot("dt", per_window=one)
    fake.add_wecom_bot("wb", per_minute=one)
    fake.add_wecom_app("corp", "app-secret-0123456789", 1000002, ["alice"], api_per_minute=one)


CHAT = [
    (Platform.FEISHU, "fs"),
    (Platform.DINGTALK, "dt"),
    (Platform.WECOM_BOT, "wb"),
    (Platform.WECOM_APP, None),
]


def first_attempts_refused(fake: FakePlatforms) -> bool:
    return all(any(not r.delivered for r in fake.received(platform, key)) for platform, key in CHAT)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_every_destination_reads_the_release_in_event_order(store_url: str) -> None:
    """The first message to each chat destination is refused by its platform's rate limit
    (DingTalk then locks the robot for ten minutes), a custom endpoint answers 503 twice; with
    two workers, every destination still shows canary_started, canary_completed,
    full_completed in that order."""
    clock = FakeClock()
    platform_clock = ManualClock(clock.time())
    async with running_fake_platforms(clock=platform_clock) as fake:
        register_chat(fake, tight=True)
        down_twice = [Behaviour.with_status(503), Behaviour.with_status(503), Behaviour.ok()]
        fake.set_endpoint("ops", down_twice)
        await use_up_quotas(fake)
        with clocked_container(store_url, clock, worker={"poll_interval": 0.1}) as c:
            project_id, version_id = make_project(c)
            ops = custom_channel(fake.endpoint_url("ops"), retry_interval=1)
            add_config(c, project_id, [*chat_channels(fake), ops])
            canary_through(c, project_id, version_id)
            async with workers(c, 2):
                await eventually(lambda: first_attempts_refused(fake))
                register_chat(fake, tight=False)
                for _ in range(300):
                    if await asyncio.to_thread(all_final, c):
                        break
                    await asyncio.sleep(0.05)
                    clock.advance(5.0)
                    platform_clock.advance(5.0)
            rows = delivery_rows(c)
    assert len(rows) == 15 and all(r.status == "success" for r in rows)
    for platform, key in CHAT:
        assert read_in_room(fake.received(platform, key)) == CANARY_EVENTS, platform
    endpoint = [r for r in fake.received(Platform.ENDPOINT, "ops") if r.delivered]
    bodies = [r.json for r in endpoint if r.json]
    assert [b["event_type"] for b in bodies] == CANARY_EVENTS
    assert [b["sequence"] for b in bodies] == [1, 2, 3]


@pytest.mark.asyncio
async def test_a_message_that_fails_for_good_releases_the_later_ones_and_they_say_so(
    container: Container,
) -> None:
    """A DingTalk robot whose keyword only the completion messages contain refuses
    canary_started for good (310000); the two later messages go out and tell the room."""
    async with running_fake_platforms() as fake:
        fake.add_dingtalk_robot("kw", keywords=["完成"])
        project_id, version_id = make_project(container)
        add_config(
            container,
            project_id,
            [{"type": "dingtalk", "config": {"webhook_url": fake.dingtalk_url("kw")}}],
        )
        canary_through(container, project_id, version_id)
        async with workers(container, 1):
            await eventually(lambda: all_final(container))
        received = fake.received(Platform.DINGTALK, "kw")
    assert [r.code for r in received] == [310000, 0, 0]
    later = [r.json["markdown"]["text"] for r in received[1:] if r.json]
    assert all("此前的通知未能送达：金丝雀发布开始" in text for text in later)
    rows = {r.event_type: r for r in delivery_rows(container)}
    assert rows["canary_started"].status == "failed"
    assert rows["full_completed"].status == "success"
    detail = container.history.detail(rows["full_completed"].id)
    assert "canary_started" in (detail.attempt_log[0].note or "")


@pytest.mark.asyncio
async def test_at_most_per_target_concurrency_requests_reach_a_slow_endpoint(
    store_url: str,
) -> None:
    """40 events to an endpoint that takes a second to answer, from two workers allowed 64
    requests each: the endpoint never serves more than 4 at once, and a fast endpoint beside
    it gets all 40 long before the slow one is done."""
    settings = {"worker": {"concurrency": 64, "per_target_concurrency": 4}}
    c = Container.build(make_settings(store_url, **settings))
    try:
        async with running_fake_platforms() as fake:
            fake.set_endpoint("slow", Behaviour.hang(1.0))
            fake.set_endpoint("fast", Behaviour.ok())
            project_id, version_id = make_project(c)
            slow = custom_channel(fake.endpoint_url("slow"), timeout=10, ordered=False)
            fast = custom_channel(fake.endpoint_url("fast"), ordered=False)
            add_config(c, project_id, [slow, fast])
            started = time.monotonic()
            emit_stopped_tasks(c, project_id, version_id, 40)
            async with workers(c, 2):
                await eventually(lambda: fake.endpoint_stats("fast").requests >= 40, timeout=30)
                fast_done = time.monotonic() - started
                await eventually(lambda: all_final(c), timeout=60)
                slow_done = time.monotonic() - started
            slow_stats = fake.endpoint_stats("slow")
    finally:
        c.close()
    assert slow_stats.requests == 40
    assert slow_stats.max_in_flight == 4
    # The slow endpoint needs at least 10 s (40 one-second answers, 4 at a time); the fast one
    # must not queue behind it. Relative, so a loaded machine slows both alike.
    assert fast_done * 2 < slow_done, f"fast {fast_done:.1f}s vs slow {slow_done:.1f}s"


def test_a_chat_destination_takes_one_request_at_a_time(container: Container) -> None:
    """Four due deliveries to one Feishu bot: a claim leases one; another worker's claim
    leases none while it is in flight; once it is done, the next one goes."""
    project_id, version_id = make_project(container)
    channel = {
        "type": "feishu",
        "config": {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/t0ken-0123456789"},
    }
    add_config(container, project_id, [channel], events=["task_stopped"])
    emit_stopped_tasks(container, project_id, version_id, 4)
    policy = claim_policy(container.settings.worker)

    def claim(owner: str) -> list[Claimed]:
        with container.db.transaction() as uow:
            fan_out(uow.conn, container.clock.now(), 9)
            return claims.claim(
                uow.conn,
                owner=owner,
                now=container.clock.now(),
                limit=100,
                exclude_targets=(),
                policy=policy,
            ).claimed

    first = claim("a")
    assert len(first) == 1
    assert claim("b") == []
    done = dataclasses.replace(
        orphan_record(first[0], container.clock.now()),
        status=DeliveryStatus.SUCCESS,
        outcome=AttemptOutcome.DELIVERED,
    )
    with container.db.transaction() as uow:
        results.record(uow.conn, [done], container.clock.now())
    assert len(claim("b")) == 1

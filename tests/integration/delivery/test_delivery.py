"""The delivery engine against real stores and the fake platforms: fan-out, retries, faults,
rate limits with digests, isolation, circuit breaking, resend."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time

import pytest

from herald.bootstrap import Container
from herald.channels.base import USER_AGENT
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.fakeplatforms import Behaviour, running_fake_platforms
from herald.fakeplatforms.records import Platform
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    attempt_rows,
    custom_channel,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)

pytestmark = pytest.mark.asyncio


async def test_canary_events_reach_a_custom_endpoint_in_order_with_stable_ids(
    container: Container,
) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("ops", Behaviour.ok(204))
        project_id, version_id = make_project(container)
        add_config(container, project_id, [custom_channel(fake.endpoint_url("ops"))])
        spec = TaskSpec(
            project_id=project_id,
            version_id=version_id,
            type=TaskType.DEPLOY,
            strategy=Strategy.CANARY,
            environment=Environment.PRODUCTION,
            hosts=["a", "b", "c"],
            canary_count=1,
            executor={"type": "simulated", "host_seconds": 0.01},
            auto_promote_after=0,
        )
        task = container.release.create_task(spec)
        container.release.start(task.id)
        engine = asyncio.create_task(container.runner().run())
        try:
            async with running_worker(container):
                await eventually(lambda: len(fake.received(Platform.ENDPOINT)) >= 3)
                await eventually(lambda: all_final(container))
        finally:
            engine.cancel()
            await asyncio.gather(engine, return_exceptions=True)
    received = fake.received(Platform.ENDPOINT)
    bodies = [json.loads(r.body) for r in received]
    assert [b["event_type"] for b in bodies] == [
        "canary_started",
        "canary_completed",
        "full_completed",
    ]
    stored = {e.event_type: e.payload for e in container.release.task_events(task.id)}
    for record, body in zip(received, bodies, strict=True):
        assert body == stored[body["event_type"]]
        assert list(body) == list(stored[body["event_type"]])
        assert record.headers["content-type"].startswith("application/json")
        assert record.headers["webhook-id"] in {d.id for d in delivery_rows(container)}
    assert all(d.status == "success" and d.attempts == 1 for d in delivery_rows(container))


async def test_two_workers_racing_deliver_each_event_exactly_once(container: Container) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("ops", Behaviour.ok(200))
        project_id, version_id = make_project(container)
        add_config(container, project_id, [custom_channel(fake.endpoint_url("ops"))])
        tasks = emit_stopped_tasks(container, project_id, version_id, 120)
        async with running_worker(container, "w1"), running_worker(container, "w2"):
            await eventually(lambda: len(delivery_rows(container)) == 120 and all_final(container))
        stats = fake.endpoint_stats("ops")
    rows = delivery_rows(container)
    assert len({(r.event_id, r.channel_id) for r in rows}) == 120
    assert {r.task_id for r in rows} == set(tasks)
    assert stats.distinct_ids == 120 and stats.duplicate_deliveries == 0


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAULTS = [
    # behaviour, expected outcome of the first attempt, is it retried?
    pytest.param(Behaviour.with_status(500, b"boom"), "retryable", True, id="500"),
    pytest.param(Behaviour.with_status(503, b"", retry_after=1), "retryable", True, id="503"),
    pytest.param(Behaviour.with_status(429, b"", retry_after=1), "retryable", True, id="429"),
    pytest.param(Behaviour.hang(3.0), "retryable", True, id="timeout"),
    pytest.param(Behaviour.reset(), "retryable", True, id="reset"),
    pytest.param(Behaviour.with_status(404, b"no such hook"), "permanent", False, id="404"),
    pytest.param(Behaviour.with_status(410, b"gone"), "permanent", False, id="410"),
    pytest.param(Behaviour.redirect("http://127.0.0.1:1/x"), "permanent", False, id="redirect"),
    # a custom endpoint's 2xx is success, whatever the body
    pytest.param(Behaviour.garbage(), "delivered", False, id="garbage-200"),
]


@pytest.mark.parametrize(("behaviour", "outcome", "retried"), FAULTS)
async def test_fault_matrix_for_custom_endpoints(
    container: Container, behaviour: Behaviour, outcome: str, retried: bool
) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("flaky", [behaviour, Behaviour.ok(204)])
        project_id, version_id = make_project(container)
        channel = custom_channel(
            fake.endpoint_url("flaky"), timeout=1, retry_count=2, retry_interval=1
        )
        add_config(container, project_id, [channel])
        emit_stopped_tasks(container, project_id, version_id, 1)
        async with running_worker(container):
            await eventually(lambda: all_final(container), timeout=20)
    (row,) = delivery_rows(container)
    attempts = attempt_rows(container, row.id)
    assert attempts[0].outcome == outcome, attempts[0].error
    if retried:
        assert row.status == "success" and len(attempts) == 2
        assert attempts[0].error
    else:
        assert len(attempts) == 1
        assert row.status == ("success" if outcome == "delivered" else "failed")
    if outcome != "delivered":
        assert attempts[0].error
    if outcome == "permanent":
        assert row.last_error


async def test_connection_refused_is_retried_until_exhausted(container: Container) -> None:
    project_id, version_id = make_project(container)
    url = f"http://127.0.0.1:{_unused_port()}/hook"
    add_config(container, project_id, [custom_channel(url, retry_count=2, retry_interval=1)])
    emit_stopped_tasks(container, project_id, version_id, 1)
    async with running_worker(container):
        await eventually(lambda: all_final(container))
    (row,) = delivery_rows(container)
    attempts = attempt_rows(container, row.id)
    assert row.status == "failed" and row.attempts == 3 == len(attempts)
    assert all(a.outcome == "retryable" and "connection" in a.error for a in attempts)


async def test_retry_after_is_honoured_and_never_early(container: Container) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("busy", [Behaviour.with_status(429, b"", retry_after=2), Behaviour.ok()])
        project_id, version_id = make_project(container)
        add_config(
            container, project_id, [custom_channel(fake.endpoint_url("busy"), retry_interval=1)]
        )
        emit_stopped_tasks(container, project_id, version_id, 1)
        async with running_worker(container):
            await eventually(lambda: all_final(container))
        first, second = fake.received(Platform.ENDPOINT)
    assert second.received_at - first.received_at >= 2.0


async def test_a_hanging_endpoint_does_not_delay_a_healthy_one(container: Container) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("stuck", Behaviour.hang(4.0))
        fake.set_endpoint("fine", Behaviour.ok())
        project_id, version_id = make_project(container)
        add_config(
            container,
            project_id,
            [
                custom_channel(fake.endpoint_url("stuck"), timeout=3, retry_count=0),
                custom_channel(fake.endpoint_url("fine")),
            ],
        )
        started = time.time()
        emit_stopped_tasks(container, project_id, version_id, 40)
        async with running_worker(container):
            await eventually(lambda: fake.endpoint_stats("fine").requests >= 40, timeout=30)
            healthy_done = time.time() - started
    assert healthy_done < 3.0, f"healthy endpoint waited {healthy_done:.1f}s behind the hanging one"


async def test_a_persistently_failing_target_opens_its_circuit(container: Container) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("down", Behaviour.with_status(502, b"bad gateway"))
        project_id, version_id = make_project(container)
        add_config(
            container,
            project_id,
            [custom_channel(fake.endpoint_url("down"), retry_interval=1, retry_count=5)],
        )
        emit_stopped_tasks(container, project_id, version_id, 20)
        async with running_worker(container):
            targets = await eventually(
                lambda: [t for t in container.history.targets(None) if t.circuit == "open"]
            )
            await asyncio.sleep(1.0)
            hits = fake.endpoint_stats("down").requests
            await asyncio.sleep(1.0)
            assert fake.endpoint_stats("down").requests == hits  # paused, not hammered
    assert targets[0].consecutive_failures >= 5 and targets[0].pending > 0
    assert targets[0].probe_at > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)


async def test_300_events_into_one_dingtalk_robot_never_trip_its_limit(
    container: Container,
) -> None:
    async with running_fake_platforms() as fake:
        fake.add_dingtalk_robot("robot", secret="SECtestsecret")
        project_id, version_id = make_project(container)
        channel = {
            "type": "dingtalk",
            "config": {"webhook_url": fake.dingtalk_url("robot"), "sign_secret": "SECtestsecret"},
        }
        add_config(container, project_id, [channel])
        emit_stopped_tasks(container, project_id, version_id, 300)
        async with running_worker(container):
            await eventually(lambda: all_final(container), timeout=180)
        received = fake.received(Platform.DINGTALK)
    assert [r for r in received if r.code == 130101] == []
    assert all(r.code == 0 for r in received) and len(received) <= 20
    assert {r.headers["user-agent"] for r in received} == {USER_AGENT}
    rows = delivery_rows(container)
    events = [r for r in rows if r.kind == "event"]
    digests = [r for r in rows if r.kind == "digest"]
    assert len(events) == 300 and all(r.status == "success" for r in rows)
    merged = [r for r in events if r.digest_id]
    assert len(merged) == sum(d.digest_size for d in digests) and merged
    assert {r.digest_id for r in merged} <= {d.id for d in digests}


async def test_resend_sends_a_failed_delivery_again(container: Container) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("picky", [Behaviour.with_status(400, b"no"), Behaviour.ok()])
        project_id, version_id = make_project(container)
        add_config(container, project_id, [custom_channel(fake.endpoint_url("picky"))])
        emit_stopped_tasks(container, project_id, version_id, 1)
        async with running_worker(container):
            await eventually(lambda: all_final(container))
            (row,) = delivery_rows(container)
            assert row.status == "failed"
            container.history.resend(row.id)
            await eventually(lambda: delivery_rows(container)[0].status == "success")
    attempts = attempt_rows(container, row.id)
    assert [a.trigger for a in attempts] == ["scheduled", "manual"]
    assert [a.outcome for a in attempts] == ["permanent", "delivered"]

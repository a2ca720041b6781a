"""Mute windows against a running worker: what a window covers is held as muted (nothing is
sent, nothing is lost), stats count it, the window expires by the clock without a restart,
and a person's release sends what was held in its task's order; a drop never sends it."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import pytest

from herald.bootstrap import Container
from herald.domain.delivery import DeliveryStatus, HeldDecision
from herald.domain.errors import Conflict
from herald.domain.filters import HistoryFilter
from herald.domain.mutes import MuteScope
from herald.fakeplatforms import Behaviour, running_fake_platforms
from herald.fakeplatforms.records import Platform, RecordedRequest
from herald.history.mute_windows import MuteRequest
from herald.runtime.clock import FakeClock
from tests.integration.delivery.delivery_support import (
    add_config,
    custom_channel,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
)
from tests.integration.delivery.test_delivery_order import (
    CANARY_EVENTS,
    canary_through,
    clocked_container,
    workers,
)


@dataclass(frozen=True)
class Person:
    token_id: str = "token-1"
    name: str = "alice"


ALICE = Person()


def statuses(c: Container, config_id: str) -> list[str]:
    return sorted(r.status for r in delivery_rows(c, config_id=config_id))


def sent_events(records: list[RecordedRequest]) -> list[str]:
    """The event types a custom endpoint accepted, in order."""
    return [r.json["event_type"] for r in records if r.delivered and isinstance(r.json, dict)]


@pytest.mark.asyncio
async def test_a_window_holds_what_it_covers_until_released_in_order(store_url: str) -> None:
    """Config `quiet` is muted for an hour; config `loud` posts to the same endpoint (the same
    target, so one task's deliveries to it are ordered across both) and is not muted: `loud`
    gets the whole canary in order at once (a muted delivery holds no later one back),
    `quiet` gets nothing; stats count three muted. Two hours later (the fake clock; same worker) the
    window is over: a new event to `quiet` is sent, and the three held stay muted until a
    release, which delivers them in event order. None is lost. Two workers share the work."""
    clock = FakeClock()
    async with running_fake_platforms() as fake:
        fake.set_endpoint("room", Behaviour.ok())
        with clocked_container(store_url, clock, worker={"poll_interval": 0.05}) as c:
            project_id, version_id = make_project(c)
            quiet = add_config(c, project_id, [custom_channel(fake.endpoint_url("room"))])
            loud = add_config(c, project_id, [custom_channel(fake.endpoint_url("room"))])
            window = c.mutes.create(
                MuteRequest(MuteScope.CONFIG, quiet, "maintenance", duration="1h"), ALICE
            )
            async with workers(c, 2):
                canary_through(c, project_id, version_id)
                await eventually(lambda: statuses(c, quiet) == ["muted"] * 3)
                await eventually(lambda: statuses(c, loud) == ["success"] * 3)
                assert sent_events(fake.received(Platform.ENDPOINT, "room")) == CANARY_EVENTS
                stats = c.history.stats(HistoryFilter(config_id=quiet))
                assert sum(s.muted for s in stats) == 3 and sum(s.success for s in stats) == 0
                assert c.mutes.get(window.id).held == 3

                clock.advance(2 * 3600)  # the window ends; no restart, no call
                assert c.mutes.windows(visible=None, active=True, project_id=None) == []
                emit_stopped_tasks(c, project_id, version_id, 1)
                await eventually(lambda: statuses(c, quiet) == ["muted"] * 3 + ["success"])
                await eventually(lambda: statuses(c, loud) == ["success"] * 4)

                decided = c.mutes.decide_window(window.id, HeldDecision.RELEASE, ALICE)
                assert decided.status == DeliveryStatus.PENDING and len(decided.delivery_ids) == 3
                await eventually(lambda: statuses(c, quiet) == ["success"] * 4)
            after = c.mutes.get(window.id)
    assert (after.held, after.released, after.dropped) == (0, 3, 0)
    room = sent_events(fake.received(Platform.ENDPOINT, "room"))
    assert room == [*CANARY_EVENTS, "task_stopped", "task_stopped", *CANARY_EVENTS]


@pytest.mark.asyncio
async def test_a_project_window_held_delivery_can_be_dropped_and_is_never_sent(
    store_url: str,
) -> None:
    """A project-wide window starting later holds nothing before it starts; once started it
    holds; a dropped delivery ends `dropped`, is counted, and cannot be released or resent;
    a released one is sent. Ending a window early keeps what it held."""
    clock = FakeClock()
    async with running_fake_platforms() as fake:
        fake.set_endpoint("room", Behaviour.ok())
        with clocked_container(store_url, clock, worker={"poll_interval": 0.05}) as c:
            project_id, version_id = make_project(c)
            config = add_config(c, project_id, [custom_channel(fake.endpoint_url("room"))])
            starts = clock.now() + dt.timedelta(minutes=10)
            window = c.mutes.create(
                MuteRequest(
                    MuteScope.PROJECT, project_id, "freeze", starts_at=starts, duration="1h"
                ),
                ALICE,
            )
            async with workers(c, 1):
                emit_stopped_tasks(c, project_id, version_id, 1)
                await eventually(lambda: statuses(c, config) == ["success"])
                clock.advance(11 * 60)
                emit_stopped_tasks(c, project_id, version_id, 2)
                await eventually(lambda: statuses(c, config) == ["muted", "muted", "success"])
                ended = c.mutes.end(window.id, ALICE)
                assert ended.ended_by == "alice" and ended.held == 2
                held = [r.id for r in delivery_rows(c, config_id=config) if r.status == "muted"]
                dropped = c.mutes.decide_one(held[0], HeldDecision.DROP, ALICE)
                assert dropped.status == DeliveryStatus.DROPPED
                with pytest.raises(Conflict):
                    c.mutes.decide_one(held[0], HeldDecision.RELEASE, ALICE)
                with pytest.raises(Conflict):
                    c.history.resend(held[1])
                c.mutes.decide_one(held[1], HeldDecision.RELEASE, ALICE)
                await eventually(lambda: statuses(c, config) == ["dropped", "success", "success"])
                await asyncio.sleep(0.2)  # a dropped one is never picked up
            stats = c.history.stats(HistoryFilter(config_id=config))
            final = c.mutes.get(window.id)
    assert len(fake.received(Platform.ENDPOINT, "room")) == 2
    assert sum(s.dropped for s in stats) == 1 and sum(s.success for s in stats) == 2
    assert (final.held, final.released, final.dropped) == (0, 1, 1)

"""The pure part of external runs: the task a first event creates, and how events move it."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.domain.errors import Conflict
from herald.domain.events import EventType
from herald.domain.release import Status, Strategy, Task
from herald.engine.external_events import (
    EXTERNAL_EVENTS,
    MOVES,
    ExternalEvent,
    Progress,
    Step,
    drive,
    external_spec,
)

T0 = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)


def event(name: str, **kw: object) -> ExternalEvent:
    values: dict[str, object] = {
        "project_id": "p",
        "run_id": "run-1",
        "event": name,
        "version": "v1",
        "environment": "production",
    }
    values.update(kw)
    return ExternalEvent(**values)  # type: ignore[arg-type]  # test values, typed by the fields


def new_task(ev: ExternalEvent) -> Task:
    return Task.create("t1", external_spec(ev, "v-id"), T0)


def test_every_external_event_has_a_move() -> None:
    assert set(MOVES) == set(EXTERNAL_EVENTS)


def test_counts_without_names_become_numbered_placeholders() -> None:
    spec = external_spec(event("rollout_started", progress=Progress(total=3)), "v")
    assert list(spec.hosts) == ["#1", "#2", "#3"] and spec.strategy is Strategy.ROLLING
    canary = external_spec(event("canary_started"), "v")
    assert list(canary.hosts) == ["#1", "#2"] and canary.canary_count == 1
    named = external_spec(
        event(
            "canary_started",
            hosts=("a", "b", "c"),
            failed_hosts=("d",),
            progress=Progress(canary=2),
        ),
        "v",
    )
    assert list(named.hosts) == ["a", "b", "c", "d"] and named.canary_count == 2
    assert named.max_failed == 4 and named.run_id == "run-1"


def test_a_skipping_event_announces_only_itself_numbered_after_the_stored_ones() -> None:
    ev = event("full_completed", strategy=Strategy.CANARY, hosts=("a", "b"))
    task = new_task(ev)
    announced = drive(task, ev, T0)
    assert [e.type for e in announced] == [EventType.FULL_COMPLETED]
    assert announced[0].sequence == 1 and task.status is Status.SUCCESS
    assert task.emitted == {EventType.FULL_COMPLETED}


def test_a_canary_moves_event_by_event() -> None:
    first = event("canary_started", hosts=("a", "b", "c"))
    task = new_task(first)
    assert [e.type for e in drive(task, first, T0)] == [EventType.CANARY_STARTED]
    step = drive(task, event("canary_step", step=Step(1, 2, 50)), T0)
    assert [(e.type, e.sequence) for e in step] == [(EventType.CANARY_STEP, 2)]
    assert step[0].step is not None and step[0].step["weight"] == 50
    done = drive(task, event("canary_completed"), T0)
    assert [(e.type, e.sequence) for e in done] == [(EventType.CANARY_COMPLETED, 3)]
    assert task.status.value == "awaiting_promotion"
    assert drive(task, event("rollout_started"), T0) == [] and task.status.value == "running"
    final = drive(task, event("task_failed", failed_hosts=("c",), reason="5xx"), T0)
    assert [e.type for e in final] == [EventType.TASK_FAILED]
    assert task.reason == "5xx" and task.failed == ["c"]
    with pytest.raises(Conflict) as caught:
        drive(task, event("full_completed"), T0)
    assert caught.value.details["status"] == "failed"

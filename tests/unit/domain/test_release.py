"""The task state machine: every transition, legal and illegal, for each strategy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from herald.domain.errors import IllegalTransition, InvalidInput
from herald.domain.events import EventType, ReleaseEvent
from herald.domain.release import (
    Environment,
    HostStatus,
    Phase,
    Status,
    Strategy,
    Task,
    TaskSpec,
    TaskType,
)

T0 = dt.datetime(2026, 1, 6, 20, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make_task(strategy: Strategy = Strategy.CANARY, count: int = 5, **kw: object) -> Task:
    values: dict[str, Any] = {  # TaskSpec fields, overridden by the test
        "project_id": "p",
        "version_id": "v",
        "type": TaskType.DEPLOY,
        "strategy": strategy,
        "environment": Environment.PRODUCTION,
        "hosts": [f"h{i}" for i in range(1, count + 1)],
        "canary_count": 1 if strategy is Strategy.CANARY else 0,
        "batch_size": 2,
        "max_failed": 0,
    }
    values.update(kw)
    return Task.create("t1", TaskSpec(**values), T0)


def types(events: list[ReleaseEvent]) -> list[EventType]:
    return [e.type for e in events]


def finish(task: Task, hosts: list[str], now: dt.datetime, ok: bool = True) -> list[ReleaseEvent]:
    events: list[ReleaseEvent] = []
    task.mark_running(hosts, now)
    for host in hosts:
        events += task.record_result(host, ok, now)
    return events


class TestCanary:
    def test_full_lifecycle_emits_three_events_in_order(self) -> None:
        task = make_task()
        events = task.start(at(0))
        assert types(events) == [EventType.CANARY_STARTED]
        assert (task.status, task.phase) == (Status.RUNNING, Phase.CANARY)
        assert task.next_batch() == ["h1"]
        events = finish(task, ["h1"], at(1))
        assert types(events) == [EventType.CANARY_COMPLETED]
        assert task.status is Status.AWAITING_PROMOTION
        assert task.next_batch() == []
        assert task.promote(at(2)) == []
        assert (task.status, task.phase) == (Status.RUNNING, Phase.FULL)
        assert task.next_batch() == ["h2", "h3"]
        assert finish(task, ["h2", "h3"], at(3)) == []
        assert task.next_batch() == ["h4", "h5"]
        events = finish(task, ["h4", "h5"], at(4))
        assert types(events) == [EventType.FULL_COMPLETED]
        assert (task.status, task.finished_at) == (Status.SUCCESS, at(4))
        assert task.duration_seconds(at(99)) == 4

    def test_canary_event_lists_canary_hosts(self) -> None:
        task = make_task(canary_count=2)
        (event,) = task.start(at(0))
        assert event.hosts == ("h1", "h2")

    def test_canary_failure_beyond_tolerance_fails_task(self) -> None:
        task = make_task()
        task.start(at(0))
        events = finish(task, ["h1"], at(1), ok=False)
        assert types(events) == [EventType.TASK_FAILED]
        assert task.status is Status.FAILED
        assert task.reason is not None and "1 host(s) failed" in task.reason

    def test_failures_within_tolerance_continue(self) -> None:
        task = make_task(max_failed=1)
        task.start(at(0))
        assert types(finish(task, ["h1"], at(1), ok=False)) == [EventType.CANARY_COMPLETED]
        task.promote(at(2))
        task.mark_running(["h2", "h3"], at(3))
        assert types(task.record_result("h2", False, at(3))) == [EventType.TASK_FAILED]

    def test_auto_promote_timer(self) -> None:
        task = make_task(auto_promote_after=30)
        task.start(at(0))
        finish(task, ["h1"], at(10))
        assert task.next_timer_at() == at(40)
        assert not task.auto_promote_due(at(39))
        assert task.auto_promote_due(at(40))

    def test_promote_only_from_awaiting(self) -> None:
        task = make_task()
        with pytest.raises(IllegalTransition, match="cannot promote task t1: it is pending"):
            task.promote(at(0))
        task.start(at(0))
        with pytest.raises(IllegalTransition):
            task.promote(at(1))


@pytest.mark.parametrize("strategy", [Strategy.ROLLING, Strategy.BLUE_GREEN])
def test_non_canary_strategies_announce_their_start_and_full_completed(
    strategy: Strategy,
) -> None:
    task = make_task(strategy)
    started = task.start(at(0))
    assert types(started) == [EventType.ROLLOUT_STARTED]
    assert started[0].hosts == tuple(task.hosts) and started[0].sequence == 1
    assert task.phase is Phase.FULL
    events: list[ReleaseEvent] = []
    while batch := task.next_batch():
        events += finish(task, batch, at(1))
    assert types(events) == [EventType.FULL_COMPLETED]
    assert events[0].sequence == 2


def test_rolling_goes_batch_by_batch_and_blue_green_all_at_once() -> None:
    rolling = make_task(Strategy.ROLLING)
    rolling.start(at(0))
    assert rolling.next_batch() == ["h1", "h2"]
    blue_green = make_task(Strategy.BLUE_GREEN)
    blue_green.start(at(0))
    assert blue_green.next_batch() == ["h1", "h2", "h3", "h4", "h5"]


def test_interrupted_hosts_are_redeployed_first() -> None:
    task = make_task(Strategy.ROLLING)
    task.start(at(0))
    task.mark_running(["h1", "h2"], at(1))
    task.record_result("h1", True, at(2))
    assert task.next_batch() == ["h2", "h3"]


class TestStopAndFail:
    @pytest.mark.parametrize("steps", [0, 1, 2])
    def test_stop_from_each_active_state(self, steps: int) -> None:
        task = make_task()
        if steps >= 1:
            task.start(at(0))
        if steps >= 2:
            finish(task, ["h1"], at(1))
        assert types(task.stop(at(5), "operator")) == [EventType.TASK_STOPPED]
        assert task.status is Status.STOPPED and task.reason == "operator"

    @pytest.mark.parametrize("final", ["success", "failed", "stopped"])
    def test_finished_tasks_reject_every_transition(self, final: str) -> None:
        task = make_task(Strategy.ROLLING, count=1)
        task.start(at(0))
        if final == "success":
            finish(task, ["h1"], at(1))
        elif final == "failed":
            task.fail(at(1), "boom")
        else:
            task.stop(at(1))
        assert task.status.value == final
        actions: list[Callable[[], list[ReleaseEvent]]] = [
            lambda: task.start(at(2)),
            lambda: task.promote(at(2)),
            lambda: task.stop(at(2)),
            lambda: task.fail(at(2), "x"),
            lambda: task.record_result("h1", False, at(2)),  # another outcome than recorded
        ]
        for action in actions:
            with pytest.raises(IllegalTransition):
                action()

    def test_the_same_host_result_again_is_a_no_op_even_after_its_phase(self) -> None:
        task = make_task(Strategy.CANARY, count=3, canary_count=1)
        task.start(at(0))
        assert types(task.record_result("h1", True, at(1))) == [EventType.CANARY_COMPLETED]
        assert task.record_result("h1", True, at(2)) == []  # awaiting promotion: a retry
        task.promote(at(3))
        assert task.record_result("h1", True, at(4)) == []  # full phase: still a retry
        with pytest.raises(IllegalTransition):
            task.record_result("h1", False, at(5))
        finish(task, ["h2", "h3"], at(6))
        assert task.status is Status.SUCCESS
        assert task.record_result("h3", True, at(7)) == []
        assert task.results["h1"].finished_at == at(1)

    def test_fail_not_allowed_from_pending(self) -> None:
        with pytest.raises(IllegalTransition):
            make_task().fail(at(0), "x")

    def test_start_twice_is_illegal(self) -> None:
        task = make_task()
        task.start(at(0))
        with pytest.raises(IllegalTransition, match="allowed from: pending"):
            task.start(at(1))


class TestHostResults:
    def test_same_result_again_is_a_noop_and_a_different_one_is_illegal(self) -> None:
        task = make_task(Strategy.ROLLING)
        task.start(at(0))
        task.record_result("h1", True, at(1))
        assert task.record_result("h1", True, at(2)) == []
        with pytest.raises(IllegalTransition, match="already finished with success"):
            task.record_result("h1", False, at(3))

    def test_unknown_host_and_host_outside_phase(self) -> None:
        task = make_task()
        task.start(at(0))
        with pytest.raises(InvalidInput, match="not part of task"):
            task.record_result("nope", True, at(1))
        with pytest.raises(IllegalTransition, match="current canary phase"):
            task.record_result("h3", True, at(1))

    def test_complete_phase_marks_unfinished_hosts(self) -> None:
        task = make_task(canary_count=2)
        task.start(at(0))
        task.record_result("h1", True, at(1))
        assert types(task.complete_phase(at(2))) == [EventType.CANARY_COMPLETED]
        assert task.results["h2"].status is HostStatus.SUCCESS


class TestLongRunning:
    def test_fires_once_after_threshold(self) -> None:
        task = make_task(long_running_after=60)
        assert task.next_timer_at() is None
        task.start(at(0))
        assert task.next_timer_at() == at(60)
        assert task.check_timers(at(59)) == []
        assert types(task.check_timers(at(60))) == [EventType.LONG_RUNNING]
        assert task.check_timers(at(120)) == []
        assert task.next_timer_at() is None

    def test_not_after_finish(self) -> None:
        task = make_task(Strategy.ROLLING, count=1, long_running_after=60)
        task.start(at(0))
        finish(task, ["h1"], at(1))
        assert task.check_timers(at(100)) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hosts": []}, "at least one host"),
        ({"canary_count": 5}, "less than the number of hosts"),
        ({"canary_count": 0}, "at least 1"),
        ({"hosts": ["a", "a", "b"]}, "must not repeat"),
        ({"hosts": [" a"]}, "surrounding spaces"),
        ({"hosts": ["a\u3000"]}, "surrounding spaces"),
        ({"hosts": ["\x1f"]}, "control characters"),
        ({"hosts": ["web\n1"]}, "control characters"),
        ({"hosts": ["a" * 254]}, "1-253 characters"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_failed": -1}, "max_failed"),
        ({"long_running_after": 0}, "long_running_after"),
        ({"strategy": Strategy.ROLLING, "canary_count": 2}, "canary strategy only"),
        ({"strategy": Strategy.ROLLING, "canary_count": 0, "auto_promote_after": 5}, "canary"),
    ],
)
def test_invalid_specs(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_task(**changes)


class TestEndedTasksSettleTheirHosts:
    """Issue 9, defect 7: every host of an ended task is in a final status."""

    def test_stop_cancels_deploying_hosts_and_skips_the_rest(self) -> None:
        task = make_task(Strategy.ROLLING, count=5)
        task.start(at(0))
        finish(task, ["h1", "h2"], at(1))
        task.mark_running(["h3", "h4"], at(2))
        task.stop(at(3), "enough")
        status = {h: task.results[h].status for h in task.hosts}
        assert status == {
            "h1": HostStatus.SUCCESS,
            "h2": HostStatus.SUCCESS,
            "h3": HostStatus.CANCELLED,
            "h4": HostStatus.CANCELLED,
            "h5": HostStatus.SKIPPED,
        }
        assert task.results["h3"].finished_at == at(3)
        assert task.results["h5"].started_at is None and task.results["h5"].finished_at is None

    def test_a_failure_beyond_tolerance_cancels_the_rest_of_the_batch(self) -> None:
        task = make_task(Strategy.BLUE_GREEN, count=3)
        task.start(at(0))
        task.mark_running(task.next_batch(), at(1))
        task.record_result("h1", False, at(2), exit_code=1)
        assert task.status is Status.FAILED
        assert [task.results[h].status for h in task.hosts] == [
            HostStatus.FAILED,
            HostStatus.CANCELLED,
            HostStatus.CANCELLED,
        ]

    def test_a_stopped_pending_task_skips_every_host(self) -> None:
        task = make_task(Strategy.ROLLING, count=2)
        task.stop(at(1))
        assert {r.status for r in task.results.values()} == {HostStatus.SKIPPED}

    def test_a_late_result_never_changes_a_final_host(self) -> None:
        task = make_task(Strategy.ROLLING, count=2)
        task.start(at(0))
        task.mark_running(["h1", "h2"], at(1))
        task.stop(at(2))
        with pytest.raises(IllegalTransition):
            task.record_result("h1", True, at(3))
        with pytest.raises(IllegalTransition):
            task.mark_running(["h1"], at(3))
        assert task.results["h1"].status is HostStatus.CANCELLED

    def test_host_output_is_made_storable(self) -> None:
        task = make_task(Strategy.ROLLING, count=1)
        task.start(at(0))
        task.record_result("h1", True, at(1), output="a\x00b\ud800c")
        assert task.results["h1"].output == "a\ufffdb\ufffdc"

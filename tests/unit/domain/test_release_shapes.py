"""The release shapes beyond the PRD: multi-step canaries, start events, rollbacks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from herald.domain.canary_steps import CanaryStep, parse_steps, resolve
from herald.domain.errors import IllegalTransition, InvalidInput
from herald.domain.events import ReleaseEvent
from herald.domain.release import (
    Environment,
    Phase,
    Project,
    Status,
    Strategy,
    Task,
    TaskSpec,
    TaskType,
    Version,
)
from herald.domain.snapshot import build_payload
from herald.domain.subscriptions import Filters, subscribed

T0 = dt.datetime(2026, 1, 6, 20, 0, tzinfo=dt.UTC)
WEIGHTS = (CanaryStep(weight=10), CanaryStep(weight=50), CanaryStep(weight=100))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make_task(strategy: Strategy = Strategy.CANARY, count: int = 10, **kw: Any) -> Task:
    values: dict[str, Any] = {
        "project_id": "p",
        "version_id": "v",
        "type": TaskType.DEPLOY,
        "strategy": strategy,
        "environment": Environment.PRODUCTION,
        "hosts": [f"h{i}" for i in range(1, count + 1)],
        "batch_size": 2,
    }
    values.update(kw)
    return Task.create("t1", TaskSpec(**values), T0)


def types(events: list[ReleaseEvent]) -> list[str]:
    return [e.type.value for e in events]


def deploy_batch(task: Task, now: dt.datetime, ok: bool = True) -> list[ReleaseEvent]:
    batch = task.next_batch()
    task.mark_running(batch, now)
    events: list[ReleaseEvent] = []
    for host in batch:
        if task.status is Status.RUNNING:  # as the engine: results after the end are dropped
            events += task.record_result(host, ok, now)
    return events


def run_to_end(task: Task) -> list[ReleaseEvent]:
    """Drive the task as the engine does, promoting when it waits; every event in order."""
    events = task.start(at(0))
    tick = 1
    while task.is_active:
        if task.status is Status.AWAITING_PROMOTION:
            events += task.promote(at(tick))
        else:
            events += deploy_batch(task, at(tick))
        tick += 1
    return events


class TestMultiStepCanary:
    def test_each_step_is_announced_once_in_order_then_the_canary_awaits_promotion(self) -> None:
        task = make_task(canary_steps=WEIGHTS)
        assert task.spec.canary_count == 10  # the last step reaches every host
        started = task.start(at(0))
        assert types(started) == ["canary_started"] and started[0].hosts == ("h1",)
        assert task.next_batch() == ["h1"]
        first = deploy_batch(task, at(1))
        assert types(first) == ["canary_step"]
        assert first[0].step == {"index": 1, "total": 3, "weight": 10, "hosts": 1}
        assert first[0].hosts == ("h1",) and first[0].occurrence == 1
        assert task.next_batch() == ["h2", "h3", "h4", "h5"]
        second = deploy_batch(task, at(2))
        assert [e.step for e in second] == [{"index": 2, "total": 3, "weight": 50, "hosts": 5}]
        assert second[0].hosts == ("h2", "h3", "h4", "h5")
        assert (task.status, task.phase) == (Status.RUNNING, Phase.CANARY)
        last = deploy_batch(task, at(3))
        assert types(last) == ["canary_completed"] and last[0].step is None
        assert task.status is Status.AWAITING_PROMOTION
        assert types(task.promote(at(4))) == ["full_completed"]  # nothing left to deploy
        assert [e.sequence for e in started + first + second + last] == [1, 2, 3, 4]

    def test_host_count_steps_leave_the_rest_to_the_full_phase(self) -> None:
        task = make_task(canary_steps=parse_steps([{"hosts": 2}, {"hosts": 4}]), count=6)
        events = run_to_end(task)
        assert types(events) == [
            "canary_started",
            "canary_step",
            "canary_completed",
            "full_completed",
        ]
        assert events[1].step == {"index": 1, "total": 2, "weight": None, "hosts": 2}
        assert events[2].hosts == ("h1", "h2", "h3", "h4")
        assert task.phase_hosts(Phase.FULL) == ["h5", "h6"]

    def test_a_step_result_repeated_or_a_reloaded_task_never_announces_a_step_twice(
        self,
    ) -> None:
        task = make_task(canary_steps=WEIGHTS)
        task.start(at(0))
        assert types(deploy_batch(task, at(1))) == ["canary_step"]
        assert task.record_result("h1", True, at(2)) == []
        # The store rebuilds the task from its rows: the announced steps come back with it.
        again = Task(
            id=task.id,
            spec=task.spec,
            created_at=task.created_at,
            status=task.status,
            phase=task.phase,
            results=task.results,
            started_at=task.started_at,
            emitted=set(task.emitted),
            emitted_steps={1},
        )
        assert again.complete_step(1, at(3)) == []
        assert [e.step and e.step["index"] for e in again.complete_step(2, at(3))] == [2]

    def test_an_external_report_of_a_later_step_announces_every_step_up_to_it(self) -> None:
        task = make_task(canary_steps=WEIGHTS)
        task.start(at(0))
        events = task.complete_step(2, at(1))
        assert [e.step["index"] for e in events if e.step] == [1, 2]
        assert task.complete_step(2, at(2)) == []  # a retry
        assert types(task.complete_step(3, at(3))) == ["canary_completed"]
        assert task.complete_step(1, at(4)) == []  # a late retry after the canary ended
        with pytest.raises(InvalidInput, match="step index must be 1-3"):
            task.complete_step(4, at(5))

    def test_a_phase_completed_externally_runs_through_every_step(self) -> None:
        task = make_task(canary_steps=WEIGHTS)
        task.start(at(0))
        events = task.complete_phase(at(1))
        assert types(events) == ["canary_step", "canary_step", "canary_completed"]

    def test_a_host_of_a_later_step_cannot_be_reported_early(self) -> None:
        task = make_task(canary_steps=WEIGHTS)
        task.start(at(0))
        with pytest.raises(IllegalTransition, match="current canary phase"):
            task.record_result("h3", True, at(1))

    def test_a_failure_beyond_the_tolerance_ends_the_task_mid_step(self) -> None:
        task = make_task(canary_steps=WEIGHTS)
        task.start(at(0))
        deploy_batch(task, at(1))
        events = deploy_batch(task, at(2), ok=False)
        assert types(events) == ["task_failed"]
        assert events[0].failed_hosts == ("h2",)  # the first failure ended it

    def test_a_non_canary_task_has_no_steps(self) -> None:
        task = make_task(Strategy.ROLLING)
        task.start(at(0))
        with pytest.raises(InvalidInput, match="not a canary"):
            task.complete_step(1, at(1))


class TestStepRules:
    def test_weights_round_up_to_at_least_one_host(self) -> None:
        steps = parse_steps([{"weight": 10}, {"weight": 30}, {"weight": 50}])
        assert resolve(steps, 8) == (1, 3, 4)

    @pytest.mark.parametrize(
        ("raw", "count", "message"),
        [
            ([{"weight": 10}, {"weight": 20}], 4, r"canary_steps\[2\] deploys no new host"),
            ([{"hosts": 3}, {"hosts": 2}], 5, r"canary_steps\[2\] deploys no new host"),
            ([{"hosts": 2}, {"hosts": 7}], 5, "reaches 7 hosts, but the task has 5"),
        ],
    )
    def test_steps_must_each_add_a_host_within_the_task(
        self, raw: list[dict[str, int]], count: int, message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            make_task(canary_steps=parse_steps(raw), count=count)

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ([{}], "give a weight"),
            ([{"weight": 0}], r"weight: a whole number 1-100"),
            ([{"weight": 101}], r"weight: a whole number 1-100"),
            ([{"hosts": True}], r"hosts: a whole number"),
            ([{"percent": 5}], "an object with weight and/or hosts"),
        ],
    )
    def test_malformed_steps_are_refused_by_name(
        self, raw: list[dict[str, Any]], message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            parse_steps(raw)

    def test_steps_belong_to_the_canary_strategy_and_agree_with_canary_count(self) -> None:
        with pytest.raises(InvalidInput, match="canary strategy only"):
            make_task(Strategy.ROLLING, canary_steps=WEIGHTS)
        with pytest.raises(InvalidInput, match="last step's 10 hosts"):
            make_task(canary_steps=WEIGHTS, canary_count=3)
        assert make_task(canary_steps=WEIGHTS, canary_count=10).spec.canary_count == 10


class TestRollback:
    @pytest.mark.parametrize("strategy", [Strategy.ROLLING, Strategy.BLUE_GREEN])
    def test_a_rollback_announces_itself_never_as_a_completed_release(
        self, strategy: Strategy
    ) -> None:
        events = run_to_end(make_task(strategy, type=TaskType.ROLLBACK))
        assert types(events) == ["rollback_started", "rollback_completed"]

    def test_a_canary_rollback_still_asks_for_promotion(self) -> None:
        task = make_task(type=TaskType.ROLLBACK, canary_count=2)
        events = run_to_end(task)
        assert types(events) == ["rollback_started", "canary_completed", "rollback_completed"]

    def test_a_failed_or_stopped_rollback_is_a_failed_or_stopped_task(self) -> None:
        failing = make_task(Strategy.ROLLING, type=TaskType.ROLLBACK)
        failing.start(at(0))
        assert types(deploy_batch(failing, at(1), ok=False)) == ["task_failed"]
        stopped = make_task(Strategy.ROLLING, type=TaskType.ROLLBACK)
        stopped.start(at(0))
        assert types(stopped.stop(at(1), "enough")) == ["task_stopped"]


PROJECT = Project("p", "payments-api", "支付网关", T0)
VERSION = Version("v", "p", "v1.2.3", "", T0)


def payload_bytes(task: Task, event: ReleaseEvent) -> bytes:
    payload, _ = build_payload(event, task, PROJECT, VERSION, "e1")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_single_step_canary_sends_the_bytes_it_always_sent() -> None:
    task = make_task(count=3, canary_count=1)
    started = task.start(at(0))
    assert payload_bytes(task, started[0]) == (
        b'{"event_type":"canary_started","project":{"id":"p","name":"payments-api",'
        + '"description":"支付网关"}'.encode()
        + b',"version":{"id":"v","name":"v1.2.3","description":""},"task":{"id":"t1",'
        b'"type":"deploy","strategy":"canary","status":"running"},"deployment":{'
        b'"total_count":3,"canary_count":1,"completed_count":0,"failed_count":0,'
        b'"hosts":["h1"]},"timestamp":"2026-01-06T20:00:00Z","duration":"0s",'
        b'"environment":"production","sequence":1}'
    )
    done = deploy_batch(task, at(30))
    assert types(done) == ["canary_completed"]
    assert payload_bytes(task, done[0]).endswith(
        b'"deployment":{"total_count":3,"canary_count":1,"completed_count":1,'
        b'"failed_count":0,"hosts":["h1"]},"timestamp":"2026-01-06T20:00:30Z",'
        b'"duration":"30s","environment":"production","sequence":2}'
    )
    # The same canary written as one step is the same release.
    one_step = make_task(count=3, canary_steps=parse_steps([{"hosts": 1}]))
    assert types(run_to_end(one_step)) == ["canary_started", "canary_completed", "full_completed"]


def test_the_payload_gains_step_failure_and_context_only_where_they_apply() -> None:
    task = make_task(canary_steps=WEIGHTS, context={"operator": "alice", "commit": "abc123"})
    task.start(at(0))
    step = deploy_batch(task, at(1))[0]
    payload, context = build_payload(step, task, PROJECT, VERSION, "e2")
    assert list(payload)[-4:] == ["environment", "sequence", "context", "step"]
    assert payload["context"] == {"operator": "alice", "commit": "abc123"}
    assert context["release"] == payload["context"]
    assert payload["step"] == {"index": 1, "total": 3, "weight": 10, "hosts": 1}
    failed = deploy_batch(task, at(2), ok=False)[0]
    payload, _ = build_payload(failed, task, PROJECT, VERSION, "e3")
    assert list(payload)[-3:] == ["sequence", "context", "failure"]
    assert payload["failure"] == {
        "reason": "1 host(s) failed, more than the 0 tolerated",
        "failed_hosts": ["h2"],
    }
    plain = make_task(Strategy.ROLLING)
    plain.start(at(0))
    stopped = plain.stop(at(1), "enough")[0]
    payload, _ = build_payload(stopped, plain, PROJECT, VERSION, "e4")
    assert list(payload)[-2:] == ["sequence", "failure"]
    assert payload["failure"] == {"reason": "enough", "failed_hosts": []}


class TestSubscriptions:
    @staticmethod
    def event(kind: str, task_type: str = "rollback") -> dict[str, Any]:
        return {"event_type": kind, "environment": "production", "task": {"type": task_type}}

    def test_a_config_of_the_prd_events_keeps_receiving_rollbacks(self) -> None:
        prd = ["canary_started", "canary_completed", "full_completed"]
        assert subscribed(True, prd, Filters(), self.event("rollback_completed"))
        assert subscribed(True, prd, Filters(), self.event("rollback_started"))
        assert not subscribed(True, prd, Filters(), self.event("rollout_started", "deploy"))
        assert not subscribed(True, prd, Filters(), self.event("canary_step", "deploy"))
        assert not subscribed(True, ["task_failed"], Filters(), self.event("rollback_completed"))

    def test_filtering_on_task_type_opts_out(self) -> None:
        deploys = Filters(task_types=("deploy",))
        kind = self.event("rollback_completed")
        assert not subscribed(True, ["full_completed"], deploys, kind)
        assert subscribed(True, ["rollback_completed"], Filters(), kind)

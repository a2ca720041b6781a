"""Projects, versions and the release task aggregate with its state machine.

Transitions are methods that change the task and return the events they cause; a transition the
current state does not allow raises `IllegalTransition`. Events fire at most once per task and
type (`emitted`), a multi-step canary's `canary_step` once per step (`emitted_steps`).

Which events a task announces depends on its shape: a canary announces `canary_started`, a
`canary_step` after each step but the last (see `herald.domain.canary_steps`) and
`canary_completed` when it awaits promotion; a rolling or blue-green release announces
`rollout_started`. A task of type rollback announces `rollback_started` in place of either start
event and `rollback_completed` in place of `full_completed`, so a rollback never reads as a
release; its failure and stop are `task_failed` and `task_stopped` like any task's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from herald.domain.canary_steps import CanaryStep, StepInfo, resolve, step_info
from herald.domain.errors import IllegalTransition, InvalidInput
from herald.domain.events import EventType, ReleaseEvent
from herald.domain.hosts import FINAL_HOST
from herald.domain.hosts import HostResult as HostResult  # re-exported: part of the aggregate
from herald.domain.hosts import HostStatus as HostStatus
from herald.domain.labels import MAX_HOST_LENGTH, is_host_name
from herald.domain.release_context import ReleaseContext


class TaskType(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    STOP = "stop"


class Strategy(StrEnum):
    CANARY = "canary"
    ROLLING = "rolling"
    BLUE_GREEN = "blue_green"


class Environment(StrEnum):
    PRODUCTION = "production"
    STAGING = "staging"
    DEVELOPMENT = "development"


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_PROMOTION = "awaiting_promotion"
    SUCCESS = "success"
    FAILED = "failed"
    STOPPED = "stopped"


class Phase(StrEnum):
    CANARY = "canary"
    FULL = "full"


ACTIVE = frozenset({Status.PENDING, Status.RUNNING, Status.AWAITING_PROMOTION})
ENGINE_EXECUTORS = frozenset({"simulated", "command"})  # the others report progress via the API
MAX_HOSTS = 5000


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    description: str
    created_at: dt.datetime
    labels: dict[str, str] = field(default_factory=dict)  # what organisation rules select by


@dataclass(frozen=True)
class Version:
    id: str
    project_id: str
    name: str
    description: str
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskSpec:
    """Everything a caller chooses when creating a task; validated by `Task.create`."""

    project_id: str
    version_id: str
    type: TaskType
    strategy: Strategy
    environment: Environment
    hosts: Sequence[str]
    canary_count: int = 0
    batch_size: int = 1
    max_failed: int = 0
    executor: dict[str, Any] = field(default_factory=lambda: {"type": "external"})
    auto_promote_after: float | None = None
    long_running_after: float | None = None
    rollback_of: str | None = None
    context: ReleaseContext = field(default_factory=lambda: ReleaseContext())
    canary_steps: tuple[CanaryStep, ...] = ()  # empty: one step of `canary_count` hosts


@dataclass
class Task:
    id: str
    spec: TaskSpec
    created_at: dt.datetime
    status: Status = Status.PENDING
    phase: Phase | None = None
    results: dict[str, HostResult] = field(default_factory=dict)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    awaiting_since: dt.datetime | None = None
    reason: str | None = None
    emitted: set[EventType] = field(default_factory=set)
    revision: int = 0
    emitted_steps: set[int] = field(default_factory=set)  # canary steps announced (from 1)

    @classmethod
    def create(cls, task_id: str, spec: TaskSpec, now: dt.datetime) -> Task:
        """A pending task; a multi-step canary's `canary_count` becomes its last step's hosts."""
        validate_spec(spec)
        if spec.canary_steps:
            last = resolve(spec.canary_steps, len(spec.hosts))[-1]
            spec = replace(spec, canary_count=last)
        results = {host: HostResult(host) for host in spec.hosts}
        return cls(id=task_id, spec=spec, created_at=now, results=results)

    # -- views -------------------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        return list(self.spec.hosts)

    @property
    def canary_hosts(self) -> list[str]:
        if self.spec.strategy is not Strategy.CANARY:
            return []
        return list(self.spec.hosts[: self.spec.canary_count])

    @property
    def step_counts(self) -> tuple[int, ...]:
        """Each canary step's cumulative host count; one step for a canary without steps."""
        if self.spec.strategy is not Strategy.CANARY:
            return ()
        if self.spec.canary_steps:
            return resolve(self.spec.canary_steps, len(self.spec.hosts))
        return (self.spec.canary_count,)

    @property
    def steps_done(self) -> int:
        """How many canary steps have every host finished, counted from the first."""
        done = 0
        for count in self.step_counts:
            if any(self.results[h].status not in FINAL_HOST for h in self.spec.hosts[:count]):
                break
            done += 1
        return done

    def step_hosts(self, index: int) -> list[str]:
        """The hosts canary step `index` (from 1) adds."""
        counts = (0, *self.step_counts)
        return list(self.spec.hosts[counts[index - 1] : counts[index]])

    def phase_hosts(self, phase: Phase | None = None) -> list[str]:
        """Hosts deployed in `phase` (default: the current one); in the canary phase, the hosts
        of every step up to the current one (earlier steps' hosts have finished)."""
        wanted = phase or self.phase
        if wanted is Phase.CANARY:
            counts = self.step_counts
            reached = counts[min(self.steps_done, len(counts) - 1)]
            return list(self.spec.hosts[:reached])
        return list(self.spec.hosts[len(self.canary_hosts) :])

    @property
    def succeeded(self) -> list[str]:
        return [h for h in self.spec.hosts if self.results[h].status is HostStatus.SUCCESS]

    @property
    def failed(self) -> list[str]:
        return [h for h in self.spec.hosts if self.results[h].status is HostStatus.FAILED]

    @property
    def driven_by_engine(self) -> bool:
        return self.spec.executor.get("type") in ENGINE_EXECUTORS

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def duration_seconds(self, now: dt.datetime) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or now
        return max(0.0, (end - self.started_at).total_seconds())

    def next_batch(self) -> list[str]:
        """Hosts the engine should deploy next: interrupted ones first, then pending ones.

        The canary batch is all canary hosts; blue-green deploys every remaining host at once;
        rolling and the full phase of a canary go `batch_size` hosts at a time.
        """
        if self.status is not Status.RUNNING:
            return []
        hosts = self.phase_hosts()
        interrupted = [h for h in hosts if self.results[h].status is HostStatus.RUNNING]
        pending = [h for h in hosts if self.results[h].status is HostStatus.PENDING]
        if self.phase is Phase.CANARY or self.spec.strategy is Strategy.BLUE_GREEN:
            return interrupted + pending
        room = max(self.spec.batch_size - len(interrupted), 0)
        return interrupted + pending[:room] if interrupted else pending[: self.spec.batch_size]

    # -- transitions -------------------------------------------------------------------------

    def start(self, now: dt.datetime) -> list[ReleaseEvent]:
        """Start the task: `canary_started` (listing the first step's hosts), `rollout_started`
        for rolling and blue-green, `rollback_started` for a rollback of any strategy."""
        self._require({Status.PENDING}, "start")
        self.status = Status.RUNNING
        self.started_at = now
        canary = self.spec.strategy is Strategy.CANARY
        self.phase = Phase.CANARY if canary else Phase.FULL
        hosts = self.step_hosts(1) if canary else self.hosts
        if self.spec.type is TaskType.ROLLBACK:
            return self._emit(EventType.ROLLBACK_STARTED, now, hosts=hosts)
        if canary:
            return self._emit(EventType.CANARY_STARTED, now, hosts=hosts)
        return self._emit(EventType.ROLLOUT_STARTED, now, hosts=hosts)

    def mark_running(self, hosts: Sequence[str], now: dt.datetime) -> None:
        """Record that the engine dispatched `hosts`; only pending or interrupted hosts move."""
        self._require({Status.RUNNING}, "deploy hosts of")
        for host in hosts:
            result = self._phase_result(host)
            if result.status not in FINAL_HOST:
                result.status = HostStatus.RUNNING
                result.started_at = now

    def record_result(
        self,
        host: str,
        ok: bool,
        now: dt.datetime,
        *,
        exit_code: int | None = None,
        output: str = "",
    ) -> list[ReleaseEvent]:
        """Record one host's outcome and take the task as far as it now goes.

        Reporting the same outcome for a finished host again is a no-op (external systems retry);
        reporting a different one is an illegal transition. `output` is made storable.
        """
        self._require({Status.RUNNING}, "report host results for")
        result = self._phase_result(host)
        new_status = HostStatus.SUCCESS if ok else HostStatus.FAILED
        if result.status in FINAL_HOST:
            if result.status is new_status:
                return []
            raise IllegalTransition(
                f"host {host!r} already finished with {result.status.value}; "
                f"it cannot change to {new_status.value}"
            )
        result.finish(new_status, now, exit_code, output)
        return self._advance(now)

    def complete_phase(self, now: dt.datetime) -> list[ReleaseEvent]:
        """An external system declares the current phase done: unfinished hosts succeeded (in
        the canary phase, those of every step, each step announced in turn)."""
        self._require({Status.RUNNING}, "complete the phase of")
        hosts = self.canary_hosts if self.phase is Phase.CANARY else self.phase_hosts()
        self._succeed(hosts, now)
        return self._advance(now)

    def complete_step(self, index: int, now: dt.datetime) -> list[ReleaseEvent]:
        """An external system declares canary step `index` (from 1) done: the unfinished hosts
        of it and of any step before it succeeded. A step already done is a no-op, whatever the
        task's state since (pipelines retry)."""
        total = len(self.step_counts)
        if not total:
            raise InvalidInput(f"task {self.id} is not a canary: it has no steps to report")
        if not 1 <= index <= total:
            raise InvalidInput(f"step index must be 1-{total} for task {self.id}, got {index}")
        if index <= self.steps_done:
            return []
        self._require({Status.RUNNING}, "complete a canary step of")
        self._succeed(self.spec.hosts[: self.step_counts[index - 1]], now)
        return self._advance(now)

    def promote(self, now: dt.datetime) -> list[ReleaseEvent]:
        self._require({Status.AWAITING_PROMOTION}, "promote")
        self.status = Status.RUNNING
        self.phase = Phase.FULL
        self.awaiting_since = None
        return self._advance(now)

    def stop(self, now: dt.datetime, reason: str | None = None) -> list[ReleaseEvent]:
        self._require(ACTIVE, "stop")
        self._finish(Status.STOPPED, now, reason or "stopped by operator")
        return self._emit(EventType.TASK_STOPPED, now)

    def fail(self, now: dt.datetime, reason: str) -> list[ReleaseEvent]:
        self._require({Status.RUNNING, Status.AWAITING_PROMOTION}, "fail")
        self._finish(Status.FAILED, now, reason)
        return self._emit(EventType.TASK_FAILED, now)

    def check_timers(self, now: dt.datetime) -> list[ReleaseEvent]:
        """Emit `long_running` once when the task has been active past its threshold."""
        threshold = self.spec.long_running_after
        if threshold is None or self.started_at is None or not self.is_active:
            return []
        if EventType.LONG_RUNNING in self.emitted:
            return []
        if (now - self.started_at).total_seconds() < threshold:
            return []
        return self._emit(EventType.LONG_RUNNING, now)

    def auto_promote_due(self, now: dt.datetime) -> bool:
        delay = self.spec.auto_promote_after
        if self.status is not Status.AWAITING_PROMOTION or delay is None:
            return False
        since = self.awaiting_since or now
        return (now - since).total_seconds() >= delay

    def next_timer_at(self) -> dt.datetime | None:
        """The earliest moment `check_timers` or auto-promotion could act, if any."""
        moments: list[dt.datetime] = []
        threshold = self.spec.long_running_after
        watching = self.is_active and EventType.LONG_RUNNING not in self.emitted
        if threshold is not None and self.started_at is not None and watching:
            moments.append(self.started_at + dt.timedelta(seconds=threshold))
        if self.status is Status.AWAITING_PROMOTION and self.spec.auto_promote_after is not None:
            since = self.awaiting_since or self.created_at
            moments.append(since + dt.timedelta(seconds=self.spec.auto_promote_after))
        return min(moments) if moments else None

    # -- internals ---------------------------------------------------------------------------

    def _advance(self, now: dt.datetime) -> list[ReleaseEvent]:
        failed = self.failed
        if len(failed) > self.spec.max_failed:
            reason = f"{len(failed)} host(s) failed, more than the {self.spec.max_failed} tolerated"
            self._finish(Status.FAILED, now, reason)
            return self._emit(EventType.TASK_FAILED, now)
        if self.phase is Phase.CANARY:
            return self._advance_canary(now)
        if any(self.results[h].status not in FINAL_HOST for h in self.phase_hosts()):
            return []
        self._finish(Status.SUCCESS, now, None)
        done = EventType.ROLLBACK_COMPLETED if self.spec.type is TaskType.ROLLBACK else None
        return self._emit(done or EventType.FULL_COMPLETED, now)

    def _advance_canary(self, now: dt.datetime) -> list[ReleaseEvent]:
        """Announce every step done since the last call; after the last, await promotion."""
        counts, done = self.step_counts, self.steps_done
        emitted: list[ReleaseEvent] = []
        for index in range(1, min(done, len(counts) - 1) + 1):
            if index not in self.emitted_steps:
                info = step_info(self.spec.canary_steps, counts, index)
                emitted += self._emit_step(info, now)
        if done < len(counts):
            return emitted
        self.status = Status.AWAITING_PROMOTION
        self.awaiting_since = now
        return emitted + self._emit(EventType.CANARY_COMPLETED, now, hosts=self.canary_hosts)

    def _succeed(self, hosts: Sequence[str], now: dt.datetime) -> None:
        for host in hosts:
            result = self.results[host]
            if result.status not in FINAL_HOST:
                result.finish(HostStatus.SUCCESS, now, result.exit_code, result.output)

    def _finish(self, status: Status, now: dt.datetime, reason: str | None) -> None:
        """End the task; every host still pending or deploying gets its final status."""
        for result in self.results.values():
            result.settle(now)
        self.status = status
        self.finished_at = now
        self.reason = reason
        self.awaiting_since = None

    def _emit(
        self, kind: EventType, now: dt.datetime, hosts: Sequence[str] | None = None
    ) -> list[ReleaseEvent]:
        if kind in self.emitted:
            return []
        self.emitted.add(kind)
        return [self._event(kind, now, self.hosts if hosts is None else hosts)]

    def _emit_step(self, info: StepInfo, now: dt.datetime) -> list[ReleaseEvent]:
        self.emitted_steps.add(info["index"])
        hosts = self.step_hosts(info["index"])
        return [self._event(EventType.CANARY_STEP, now, hosts, step=info)]

    def _event(
        self, kind: EventType, now: dt.datetime, hosts: Sequence[str], step: StepInfo | None = None
    ) -> ReleaseEvent:
        return ReleaseEvent(
            type=kind,
            task_id=self.id,
            occurred_at=now,
            failed_hosts=tuple(self.failed),
            reason=self.reason,
            hosts=tuple(hosts),
            sequence=len(self.emitted) + len(self.emitted_steps),
            step=step,
        )

    def _require(self, allowed: set[Status] | frozenset[Status], action: str) -> None:
        if self.status not in allowed:
            names = ", ".join(sorted(s.value for s in allowed))
            raise IllegalTransition(
                f"cannot {action} task {self.id}: it is {self.status.value} (allowed from: {names})",
                {"status": self.status.value, "allowed_from": sorted(s.value for s in allowed)},
            )

    def _phase_result(self, host: str) -> HostResult:
        if host not in self.results:
            raise InvalidInput(f"host {host!r} is not part of task {self.id}")
        if host not in self.phase_hosts():
            raise IllegalTransition(
                f"host {host!r} is not in the task's current {self.phase} phase",
                {"phase": self.phase, "host": host},
            )
        return self.results[host]


def validate_spec(spec: TaskSpec) -> None:
    """Raise `InvalidInput` naming the first rule `spec` breaks."""
    hosts = list(spec.hosts)
    if not hosts:
        raise InvalidInput("hosts must list at least one host")
    if len(hosts) > MAX_HOSTS:
        raise InvalidInput(f"a task may deploy at most {MAX_HOSTS} hosts, got {len(hosts)}")
    bad = [h for h in hosts if not is_host_name(h)]
    if bad:
        raise InvalidInput(
            f"host names must be 1-{MAX_HOST_LENGTH} characters, without control characters or "
            "surrounding spaces",
            {"hosts": bad[:10]},
        )
    dupes = sorted({h for h, n in Counter(hosts).items() if n > 1})
    if dupes:
        raise InvalidInput("hosts must not repeat", {"duplicates": dupes[:10]})
    _validate_numbers(spec, len(hosts))


def _validate_numbers(spec: TaskSpec, host_count: int) -> None:
    if spec.canary_steps:
        _validate_steps(spec, host_count)
    elif spec.strategy is Strategy.CANARY:
        if not 1 <= spec.canary_count < host_count:
            raise InvalidInput(
                f"canary_count must be at least 1 and less than the number of hosts "
                f"({host_count}), got {spec.canary_count}"
            )
    elif spec.canary_count:
        raise InvalidInput(
            f"canary_count applies to the canary strategy only, not {spec.strategy.value}"
        )
    if spec.batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {spec.batch_size}")
    if spec.max_failed < 0:
        raise InvalidInput(f"max_failed must be 0 or more, got {spec.max_failed}")
    if spec.auto_promote_after is not None and spec.auto_promote_after < 0:
        raise InvalidInput("auto_promote_after must be 0 or more seconds")
    if spec.auto_promote_after is not None and spec.strategy is not Strategy.CANARY:
        raise InvalidInput("auto_promote_after applies to the canary strategy only")
    if spec.long_running_after is not None and spec.long_running_after <= 0:
        raise InvalidInput("long_running_after must be more than 0 seconds")


def _validate_steps(spec: TaskSpec, host_count: int) -> None:
    if spec.strategy is not Strategy.CANARY:
        raise InvalidInput(
            f"canary_steps apply to the canary strategy only, not {spec.strategy.value}"
        )
    last = resolve(spec.canary_steps, host_count)[-1]
    if spec.canary_count not in (0, last):
        raise InvalidInput(
            f"canary_count ({spec.canary_count}) must be left out with canary_steps, or equal "
            f"the last step's {last} hosts"
        )

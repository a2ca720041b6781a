"""Releases Herald did not run: an external system's events drive an external task.

`ExternalEvents.apply` takes one event of a run (a CD pipeline, an inbound webhook) and:

- the first event of a run (project, run id) creates the task: executor `external`, the run
  id, hosts as reported (or numbered placeholders `#1`…`#n` when only counts are known);
- every event moves the task through the domain's transitions as far as the event says
  (`MOVES`); states it skips are passed through without announcing them, so only the event
  itself is announced (`ANNOUNCES`);
- an event already applied to the run (same event, same step index) is answered as a
  duplicate with what it did the first time, never applied twice;
- a new event for a finished task is a `Conflict` carrying the task's state.

Extending it for a new event type is one row in `MOVES` (and `ANNOUNCES` if it announces a
Herald event of another name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from herald.access.roles import Principal
from herald.domain.canary_steps import CanaryStep, StepInfo
from herald.domain.errors import Conflict, InvalidInput, StoreConflict
from herald.domain.events import ReleaseEvent
from herald.domain.ids import new_id
from herald.domain.release import Phase, Status, Strategy, Task, TaskSpec, TaskType
from herald.domain.release_context import ReleaseContext, normalise_context
from herald.engine.catalog import Catalog
from herald.engine.releases import ReleaseService, Written
from herald.engine.trail import Acting
from herald.store import external_event_repo as applied_repo
from herald.store import task_repo
from herald.store.db import UnitOfWork
from herald.store.external_event_repo import AppliedEvent

EXTERNAL_EVENTS = (
    "canary_started",
    "canary_step",
    "canary_completed",
    "full_completed",
    "rollout_started",
    "rollback_started",
    "rollback_completed",
    "task_failed",
    "task_stopped",
)
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class Step:
    index: int
    total: int
    weight: int | None = None


@dataclass(frozen=True)
class Progress:
    total: int | None = None
    canary: int | None = None
    completed: int | None = None
    failed: int | None = None


@dataclass(frozen=True)
class ExternalEvent:
    """One event of an external run, validated (the API's `ExternalEventIn`, or an inbound
    webhook's mapping). `project_id` is resolved by the caller."""

    project_id: str
    run_id: str
    event: str
    version: str | None = None
    environment: str | None = None
    type: TaskType = TaskType.DEPLOY
    strategy: Strategy | None = None
    step: Step | None = None
    progress: Progress = field(default_factory=Progress)
    hosts: Sequence[str] = ()
    failed_hosts: Sequence[str] = ()
    reason: str | None = None
    context: ReleaseContext = field(default_factory=lambda: ReleaseContext())
    occurred_at: dt.datetime | None = None

    @property
    def key(self) -> str:
        """What makes a retry a retry: the event, and for a canary step its index."""
        return (
            f"{self.event}:{self.step.index}"
            if self.step and self.event == "canary_step"
            else self.event
        )


@dataclass(frozen=True)
class Applied:
    task: Task
    event_id: str | None  # the Herald event announced, if any
    event_type: str
    duplicate: bool
    created: bool  # the event created the run's task


# -- the moves -------------------------------------------------------------------------------

Move = Callable[[Task, ExternalEvent, dt.datetime], list[ReleaseEvent]]


def _failures(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    """Record the reported failed hosts of the current phase (named, or placeholders)."""
    if task.status is not Status.RUNNING:
        return []
    names = list(ev.failed_hosts) or _placeholder_failures(task, ev)
    emitted: list[ReleaseEvent] = []
    for host in names:
        if host in task.phase_hosts() and task.status is Status.RUNNING:
            emitted += task.record_result(host, False, now)
    return emitted


def _placeholder_failures(task: Task, ev: ExternalEvent) -> list[str]:
    count = ev.progress.failed or 0
    if not count or not all(h.startswith("#") for h in task.hosts):
        return []
    return task.hosts[-count:]


def _started(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    return task.start(now) if task.status is Status.PENDING else []


def _canary_done(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    emitted = _started(task, ev, now) + _failures(task, ev, now)
    if task.status is Status.RUNNING and task.phase is Phase.CANARY:
        emitted += task.complete_phase(now)
    return emitted


def _rollout(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    emitted = _started(task, ev, now)
    if task.status is Status.RUNNING and task.phase is Phase.CANARY:
        emitted += task.complete_phase(now)
    if task.status is Status.AWAITING_PROMOTION:
        emitted += task.promote(now)
    return emitted


def _succeeded(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    emitted = _rollout(task, ev, now) + _failures(task, ev, now)
    if task.status is Status.RUNNING:
        emitted += task.complete_phase(now)
    return emitted


def _failed(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    emitted = _started(task, ev, now) + _failures(task, ev, now)
    if task.is_active:
        emitted += task.fail(now, ev.reason or "reported failed by the external system")
    return emitted


def _step(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    """A canary step is done: steps declared at creation advance the domain's steps; a canary
    that declared none announces the step as reported."""
    emitted = _started(task, ev, now)
    if ev.step is None or task.status is not Status.RUNNING:
        return emitted
    info: StepInfo = {
        "index": ev.step.index,
        "total": ev.step.total,
        "weight": ev.step.weight,
        "hosts": None,
    }
    if task.spec.canary_steps and ev.step.weight is not None:
        task.spec = _with_weight(task.spec, ev.step.index, ev.step.weight)
    return emitted + _failures(task, ev, now) + task.report_step(info, now)


def _with_weight(spec: TaskSpec, index: int, weight: int) -> TaskSpec:
    """The spec with step `index`'s weight as reported, so its message shows it."""
    steps = tuple(
        replace(step, weight=weight) if i == index else step
        for i, step in enumerate(spec.canary_steps, start=1)
    )
    return replace(spec, canary_steps=steps)


def _stopped(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    return task.stop(now, ev.reason or "reported stopped by the external system")


# What each external event does to the task. Starting a task announces canary_started,
# rollout_started or rollback_started by its strategy and type (ANNOUNCES below).
MOVES: dict[str, Move] = {
    "canary_started": _started,
    "canary_step": _step,
    "canary_completed": _canary_done,
    "rollout_started": _rollout,
    "full_completed": _succeeded,
    "rollback_started": _started,
    "rollback_completed": _succeeded,
    "task_failed": _failed,
    "task_stopped": _stopped,
}
# The Herald event types an external event announces (by name); the others its moves cause
# belong to skipped states and are not announced.
ANNOUNCES: dict[str, frozenset[str]] = {
    **{name: frozenset({name}) for name in EXTERNAL_EVENTS},
    "full_completed": frozenset({"full_completed", "rollback_completed"}),
    "rollback_completed": frozenset({"rollback_completed", "full_completed"}),
    "canary_step": frozenset({"canary_step", "canary_completed"}),
    "rollout_started": frozenset({"rollout_started", "rollback_started"}),
    "rollback_started": frozenset({"rollback_started", "rollout_started", "canary_started"}),
    "canary_started": frozenset({"canary_started", "rollback_started"}),
}


def drive(task: Task, ev: ExternalEvent, now: dt.datetime) -> list[ReleaseEvent]:
    """Apply `ev` to `task`; return only the events it announces, numbered after the task's
    stored ones. `Conflict` (with the task's state) for a finished task."""
    if not task.is_active:
        raise Conflict(
            f"task {task.id} of run {ev.run_id!r} already ended {task.status.value}; "
            f"{ev.event} contradicts it",
            {"task_id": task.id, "status": task.status.value, "reason": task.reason},
        )
    stored = len(task.emitted) + len(task.emitted_steps)
    caused = MOVES[ev.event](task, ev, now)
    kept = [e for e in caused if _announced(e, ev)]
    skipped = [e for e in caused if not _announced(e, ev)]
    task.emitted -= {e.type for e in skipped if e.step is None}
    task.emitted_steps -= {e.step["index"] for e in skipped if e.step is not None}
    return [replace(e, sequence=stored + i) for i, e in enumerate(kept, start=1)]


def _announced(caused: ReleaseEvent, ev: ExternalEvent) -> bool:
    """Whether an event a move caused is the one `ev` reports (a skipped state's is not)."""
    if caused.type.value not in ANNOUNCES[ev.event]:
        return False
    if caused.step is not None:
        return ev.step is not None and caused.step["index"] == ev.step.index
    return True


# -- the new task ----------------------------------------------------------------------------


def external_spec(ev: ExternalEvent, version_id: str) -> TaskSpec:
    """The task an external run's first event creates."""
    strategy = ev.strategy or (
        Strategy.CANARY if ev.event.startswith("canary") else Strategy.ROLLING
    )
    hosts = list(dict.fromkeys([*ev.hosts, *ev.failed_hosts]))
    if not hosts:
        count = ev.progress.total or 1
        hosts = [f"#{i}" for i in range(1, count + 1)]
    canary, steps = 0, _declared_steps(ev, strategy, hosts)
    if strategy is Strategy.CANARY and not steps:
        while len(hosts) < 2:
            hosts.append(f"#{len(hosts) + 1}")
        canary = min(max(ev.progress.canary or 1, 1), len(hosts) - 1)
    return TaskSpec(
        project_id=ev.project_id,
        version_id=version_id,
        type=ev.type,
        strategy=strategy,
        environment=ev.environment or "",
        hosts=hosts,
        canary_count=canary,
        batch_size=len(hosts),
        max_failed=len(hosts),  # the external system decides whether its release failed
        context=ev.context,
        run_id=ev.run_id,
        canary_steps=steps,
    )


def _declared_steps(
    ev: ExternalEvent, strategy: Strategy, hosts: list[str]
) -> tuple[CanaryStep, ...]:
    """A run whose first event says how many canary steps it has gets that many steps, spread
    over its hosts (placeholders added so each step adds one); `hosts` is padded in place."""
    if strategy is not Strategy.CANARY or ev.step is None or ev.step.total < 2:
        return ()
    total = ev.step.total
    while len(hosts) < total + 1:
        hosts.append(f"#{len(hosts) + 1}")
    share = len(hosts)
    return tuple(
        CanaryStep(
            weight=ev.step.weight if i == ev.step.index else None,
            hosts=i * share // (total + 1),
        )
        for i in range(1, total + 1)
    )


class ExternalEvents:
    def __init__(self, release: ReleaseService, catalog: Catalog) -> None:
        self.release = release
        self.catalog = catalog

    def apply(self, ev: ExternalEvent, actor: Principal | None = None) -> Applied:
        """Apply `ev` once (see the module's docstring); safe to call again with the same."""
        ev = replace(ev, context=normalise_context(ev.context))
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._apply_once(ev, actor)
            except StoreConflict:
                continue  # a concurrent twin created the task or applied the event: re-read
            except Conflict as exc:
                # A twin may have finished the task (or created it) first: then this is a retry.
                twin = self._seen(ev)
                if twin is not None:
                    return twin
                if isinstance(exc.details, dict) and exc.details.get("field") == "run_id":
                    continue
                raise
        raise Conflict(f"run {ev.run_id!r} keeps changing; retry the event")

    def _seen(self, ev: ExternalEvent) -> Applied | None:
        """What the event did when it was applied before, if it was."""
        with self.release.db.read() as conn:
            task_id = task_repo.task_id_by_run(conn, ev.project_id, ev.run_id)
            seen = applied_repo.find(conn, task_id, ev.key) if task_id else None
        if seen is None:
            return None
        task = self.release.get_task(seen.task_id)
        return Applied(task, seen.event_id, seen.event_type, duplicate=True, created=False)

    def _apply_once(self, ev: ExternalEvent, actor: Principal | None) -> Applied:
        seen = self._seen(ev)
        if seen is not None:
            return seen
        with self.release.db.read() as conn:
            task_id = task_repo.task_id_by_run(conn, ev.project_id, ev.run_id)
        if task_id is None:
            return self._create(ev, actor)
        outcome: list[Applied] = []

        def apply(task: Task, now: dt.datetime) -> list[ReleaseEvent]:
            return drive(task, ev, self._when(ev, task, now))

        def then(uow: UnitOfWork, task: Task, written: list[Written]) -> None:
            outcome.append(self._record(uow, task, ev, written, created=False))

        task = self.release.transition(
            task_id, apply, Acting(actor, "task.event"), {"external_event": ev.key}, then
        )
        return replace(outcome[0], task=task)

    def _create(self, ev: ExternalEvent, actor: Principal | None) -> Applied:
        if not ev.version or not ev.environment:
            raise InvalidInput(
                "the first event of a run creates its task: give version and environment",
                {"fields": ["version", "environment"]},
            )
        version, _ = self.catalog.ensure_version(ev.project_id, ev.version)
        now = self.release.clock.now()
        began = min(ev.occurred_at or now, now)
        task = Task.create(new_id(), external_spec(ev, version.id), began)
        events = drive(task, ev, began)
        outcome: list[Applied] = []

        def then(uow: UnitOfWork, saved: Task, written: list[Written]) -> None:
            outcome.append(self._record(uow, saved, ev, written, created=True))

        self.release.insert_started(task, events, Acting(actor, "task.create"), then)
        return outcome[0]

    @staticmethod
    def _when(ev: ExternalEvent, task: Task, now: dt.datetime) -> dt.datetime:
        """When it happened: as reported, but never in the future nor before the task began."""
        if ev.occurred_at is None:
            return now
        return max(min(ev.occurred_at, now), task.started_at or task.created_at)

    def _record(
        self,
        uow: UnitOfWork,
        task: Task,
        ev: ExternalEvent,
        written: list[Written],
        *,
        created: bool,
    ) -> Applied:
        announced = written[-1] if written else None
        event_type = announced.event.type.value if announced else ev.event
        event_id = announced.event_id if announced else None
        row = AppliedEvent(task.id, ev.key, event_id, event_type, self.release.clock.now())
        applied_repo.record(uow.conn, row)
        return Applied(task, event_id, event_type, False, created)

"""Release task use cases: every state change and the events it causes commit together.

Each transition loads the task, applies the domain method, saves the task (optimistic lock on
its revision) and inserts the resulting events in one transaction; a concurrent change makes the
save fail and the whole transition is re-applied to the fresh state.

The actions people and external systems take (create, start, promote, stop, rollback, report)
are audited in that same transaction: who (the acting token, or `system`), when, and the task's
state before and after (`herald.engine.trail`). What the engine does on its own is not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from herald.access.roles import Principal
from herald.domain.errors import Conflict, IllegalTransition, InvalidInput, missing
from herald.domain.events import ReleaseEvent
from herald.domain.filters import TaskFilter
from herald.domain.hosts import settled_counts, tally
from herald.domain.ids import new_id
from herald.domain.release import (
    ACTIVE,
    Status,
    Strategy,
    Task,
    TaskSpec,
    TaskType,
)
from herald.domain.release_context import normalise_context
from herald.domain.snapshot import build_payload
from herald.engine import trail
from herald.engine.executor_specs import parse_executor
from herald.engine.trail import Acting
from herald.runtime.clock import Clock
from herald.runtime.settings import CommandSpec
from herald.runtime.wakeups import Wakeups
from herald.store import audit_repo as audit
from herald.store import project_repo
from herald.store import task_repo as repo
from herald.store.db import Database, UnitOfWork
from herald.store.outbox import StoredEvent, events_for_task, insert_event
from herald.store.task_repo import TaskListing

MAX_ATTEMPTS = 8
Apply = Callable[[Task, dt.datetime], list[ReleaseEvent]]


@dataclass(frozen=True)
class HostReport:
    host: str
    ok: bool
    exit_code: int | None = None
    output: str = ""


@dataclass(frozen=True)
class Written:
    """An event inserted into the outbox, and its id."""

    event: ReleaseEvent
    event_id: str


Then = Callable[[UnitOfWork, Task, list[Written]], None]

REPORTABLE_STATUSES = ("running", "awaiting_promotion", "success", "failed", "stopped")


class ReleaseService:
    def __init__(
        self, db: Database, clock: Clock, wakeups: Wakeups, commands: Mapping[str, CommandSpec]
    ) -> None:
        self.db = db
        self.clock = clock
        self.wakeups = wakeups
        self.commands = commands

    # -- creation and queries ------------------------------------------------------------

    def create_task(self, spec: TaskSpec, actor: Principal | None = None) -> Task:
        """Validate and insert a pending task. Its context is normalised (`InvalidInput` names
        a bad field); a `run_id` the project already used is a `Conflict` naming that task."""
        executor = parse_executor(spec.executor, self.commands)
        context = normalise_context(spec.context)
        spec = replace(spec, executor=executor.model_dump(), context=context)
        task = Task.create(new_id(), spec, self.clock.now())
        with self.db.transaction() as uow:
            self._check_refs(uow, spec, actor)
            repo.insert_task(uow.conn, task)
            self._audit(uow, Acting(actor, "task.create"), task, None, trail.created(task))
        return task

    def insert_started(
        self, task: Task, events: Sequence[ReleaseEvent], acting: Acting, then: Then
    ) -> None:
        """Insert a task created and already moved on by the caller (an external run's first
        event) with the events those moves caused, then call `then`, in one transaction."""
        with self.db.transaction() as uow:
            self._check_refs(uow, task.spec, acting.actor)
            repo.insert_task(uow.conn, task)
            self._audit(uow, acting, task, None, trail.created(task))
            then(uow, task, self._write_events(uow, task, events))

    def _check_refs(self, uow: UnitOfWork, spec: TaskSpec, actor: Principal | None) -> None:
        project = project_repo.get_project(uow.conn, spec.project_id)
        project.check_environment(spec.environment)
        if spec.run_id is not None:
            taken = repo.task_id_by_run(uow.conn, spec.project_id, spec.run_id)
            if taken is not None:
                raise Conflict(
                    f"project {project.name!r} already has task {taken} for run {spec.run_id!r}",
                    {"field": "run_id", "task_id": taken},
                )
        version = project_repo.get_version(uow.conn, spec.version_id)
        if actor is not None and not actor.can_read(version.project_id):
            raise missing("version", "version_id", version.id)  # as if unknown: see api.unknown
        if version.project_id != spec.project_id:
            raise InvalidInput(
                f"version {spec.version_id} belongs to another project, not {spec.project_id}",
                {"field": "version_id"},
            )

    def get_task(self, task_id: str) -> Task:
        with self.db.read() as conn:
            return repo.load_task(conn, task_id).task

    def list_tasks(self, flt: TaskFilter, before: str | None, limit: int) -> list[TaskListing]:
        """Tasks newest first, each with its hosts counted per status (as settled once the
        task ended)."""
        with self.db.read() as conn:
            rows = repo.list_tasks(conn, flt, before=before, limit=limit)
            counts = repo.host_counts(conn, [r.id for r in rows])
        return [
            replace(
                row,
                counts=tally(
                    counts[row.id] if row.status in ACTIVE else settled_counts(counts[row.id])
                ),
            )
            for row in rows
        ]

    def task_events(self, task_id: str) -> list[StoredEvent]:
        with self.db.read() as conn:
            return events_for_task(conn, task_id)

    # -- transitions -----------------------------------------------------------------------

    # The actions below are audited as `task.<action>`, acting as `actor` (None: system).

    def start(self, task_id: str, actor: Principal | None = None) -> Task:
        acting = Acting(actor, "task.start")
        task = self.transition(task_id, lambda t, now: t.start(now), acting)
        self.wakeups.tasks.fire()
        return task

    def promote(self, task_id: str, actor: Principal | None = None) -> Task:
        acting = Acting(actor, "task.promote")
        task = self.transition(task_id, lambda t, now: t.promote(now), acting)
        self.wakeups.tasks.fire()
        return task

    def stop(self, task_id: str, reason: str | None = None, actor: Principal | None = None) -> Task:
        acting = Acting(actor, "task.stop")
        return self.transition(task_id, lambda t, now: t.stop(now, reason), acting)

    def report(
        self,
        task_id: str,
        results: Sequence[HostReport],
        status: str | None,
        reason: str | None,
        actor: Principal | None = None,
        *,
        step: int | None = None,
    ) -> Task:
        """Apply an external system's progress report: host results first, then a canary
        step done (`step`, from 1; a step already done is a no-op), then the status.

        The audit entry's `after` also holds what was reported (`reported`).
        """

        def apply(task: Task, now: dt.datetime) -> list[ReleaseEvent]:
            if task.driven_by_engine:
                raise IllegalTransition(
                    f"task {task.id} is driven by the {task.spec.executor.get('type')} executor; "
                    "only tasks with the external executor accept reports"
                )
            emitted: list[ReleaseEvent] = []
            if task.status is Status.PENDING and (status == "running" or results or step):
                emitted += task.start(now)
            for result in results:
                emitted += task.record_result(
                    result.host, result.ok, now, exit_code=result.exit_code, output=result.output
                )
            if step is not None:
                emitted += task.complete_step(step, now)
            emitted += _apply_status(task, status, reason, now)
            return emitted

        said = trail.reported([(r.host, r.ok, r.exit_code) for r in results], status, reason)
        if step is not None:
            said["step"] = step
        return self.transition(task_id, apply, Acting(actor, "task.report"), {"reported": said})

    def rollback(self, task_id: str, actor: Principal | None = None) -> Task:
        """Create a pending rollback task to the project's previous successful version.

        A task still active is stopped first, in the same transaction. Audited twice: as
        `task.rollback` of the source (with `rollback_task_id`) and `task.create` of the new task.
        """
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._rollback_once(task_id, actor)
            except repo.StaleTask:
                continue
        raise Conflict(f"task {task_id} keeps changing; try the rollback again")

    def _rollback_once(self, task_id: str, actor: Principal | None) -> Task:
        with self.db.transaction() as uow:
            loaded = repo.load_task(uow.conn, task_id, for_update=True)
            source = loaded.task
            before = trail.state(source)
            target = repo.last_successful_version(
                uow.conn,
                source.spec.project_id,
                source.spec.environment,
                before=source.created_at,
                exclude=source.spec.version_id,
            )
            if target is None:
                raise Conflict(
                    f"no earlier successful release of project {source.spec.project_id} in "
                    f"{source.spec.environment} to roll back to"
                )
            if source.is_active:
                events = source.stop(self.clock.now(), "rolled back by a new rollback task")
                repo.save_task(uow.conn, loaded)
                self._write_events(uow, source, events)
            spec = _rollback_spec(source, target)
            task = Task.create(new_id(), spec, self.clock.now())
            repo.insert_task(uow.conn, task)
            after = {**trail.state(source), "rollback_task_id": task.id}
            self._audit(uow, Acting(actor, "task.rollback"), source, before, after)
            self._audit(uow, Acting(actor, "task.create"), task, None, trail.created(task))
        return task

    # -- engine-facing ---------------------------------------------------------------------

    def dispatch(self, task_id: str, hosts: Sequence[str]) -> Task:
        def apply(task: Task, now: dt.datetime) -> list[ReleaseEvent]:
            task.mark_running(hosts, now)
            return []

        return self.transition(task_id, apply)

    def record_results(self, task_id: str, results: Sequence[HostReport]) -> Task:
        def apply(task: Task, now: dt.datetime) -> list[ReleaseEvent]:
            emitted: list[ReleaseEvent] = []
            for r in results:
                if task.status is not Status.RUNNING:
                    break  # stopped or failed meanwhile: late results are dropped
                emitted += task.record_result(
                    r.host, r.ok, now, exit_code=r.exit_code, output=r.output
                )
            return emitted

        return self.transition(task_id, apply)

    def fail(self, task_id: str, reason: str) -> Task:
        return self.transition(task_id, lambda t, now: t.fail(now, reason))

    def run_timers(self, task_id: str) -> Task:
        """Emit `long_running` and auto-promote, whichever is due for the task."""
        promoted = False

        def apply(task: Task, now: dt.datetime) -> list[ReleaseEvent]:
            nonlocal promoted
            emitted = task.check_timers(now)
            if task.auto_promote_due(now):
                emitted += task.promote(now)
                promoted = True
            return emitted

        task = self.transition(task_id, apply)
        if promoted:
            self.wakeups.tasks.fire()
        return task

    def transition(
        self,
        task_id: str,
        apply: Apply,
        acting: Acting | None = None,
        note: Mapping[str, Any] | None = None,
        then: Then | None = None,
    ) -> Task:
        """Apply `apply` to the task and save it with its events; with `acting`, audit it too
        (`note` joins the entry's `after`); `then` runs last in the same transaction."""
        for _ in range(MAX_ATTEMPTS):
            try:
                with self.db.transaction() as uow:
                    loaded = repo.load_task(uow.conn, task_id, for_update=True)
                    before = trail.state(loaded.task) if acting else None
                    events = apply(loaded.task, self.clock.now())
                    repo.save_task(uow.conn, loaded)
                    written = self._write_events(uow, loaded.task, events)
                    if then is not None:
                        then(uow, loaded.task, written)
                    if acting is not None:
                        after = {**trail.state(loaded.task), **(note or {})}
                        self._audit(uow, acting, loaded.task, before, after)
                return loaded.task
            except repo.StaleTask:
                continue
        raise Conflict(f"task {task_id} keeps changing; try again")

    def _audit(
        self, uow: UnitOfWork, acting: Acting, task: Task, before: Any, after: dict[str, Any]
    ) -> None:
        audit.record(
            uow.conn,
            acting.actor,
            action=acting.action,
            resource_type="task",
            resource_id=task.id,
            project_id=task.spec.project_id,
            before=before,
            after=after,
            at=self.clock.now(),
        )

    def _write_events(
        self, uow: UnitOfWork, task: Task, events: Sequence[ReleaseEvent]
    ) -> list[Written]:
        """Insert the events' snapshots into the outbox; return each event with its id."""
        if not events:
            return []
        written: list[Written] = []
        project = project_repo.get_project(uow.conn, task.spec.project_id)
        version = project_repo.get_version(uow.conn, task.spec.version_id)
        for event in events:
            event_id = new_id()
            payload, context = build_payload(event, task, project, version, event_id)
            insert_event(
                uow.conn,
                event_id=event_id,
                task_id=task.id,
                project_id=project.id,
                payload=payload,
                context=context,
                created_at=event.occurred_at,
                seq=event.sequence,
                occurrence=event.occurrence,
            )
            written.append(Written(event, event_id))
        uow.after_commit(self.wakeups.events.fire)
        return written


def _apply_status(
    task: Task, status: str | None, reason: str | None, now: dt.datetime
) -> list[ReleaseEvent]:
    if status in (None, "running") or status == task.status.value:
        return []  # nothing new, or the same final status reported again: a retry
    if status == "failed":
        return task.fail(now, reason or "reported failed by the external system")
    if status == "stopped":
        return task.stop(now, reason or "reported stopped by the external system")
    emitted = task.complete_phase(now) if task.status is Status.RUNNING else []
    if status == "awaiting_promotion":
        if task.status is not Status.AWAITING_PROMOTION:
            raise IllegalTransition(
                f"task {task.id} cannot await promotion: it is {task.status.value}"
            )
        return emitted
    if task.status is Status.AWAITING_PROMOTION:
        emitted += task.promote(now)
        emitted += task.complete_phase(now)
    if task.status is not Status.SUCCESS:
        raise IllegalTransition(f"task {task.id} cannot succeed: it is {task.status.value}")
    return emitted


def _rollback_spec(source: Task, version_id: str) -> TaskSpec:
    strategy = Strategy.ROLLING if source.spec.strategy is Strategy.CANARY else source.spec.strategy
    return TaskSpec(
        project_id=source.spec.project_id,
        version_id=version_id,
        type=TaskType.ROLLBACK,
        strategy=strategy,
        environment=source.spec.environment,
        hosts=source.hosts,
        canary_count=0,
        batch_size=source.spec.batch_size,
        max_failed=source.spec.max_failed,
        executor=source.spec.executor,
        long_running_after=source.spec.long_running_after,
        rollback_of=source.id,
    )

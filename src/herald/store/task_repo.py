"""Release tasks: the aggregate with its host results, saved with optimistic locking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.canary_steps import CanaryStep, parse_steps, steps_json
from herald.domain.errors import Conflict, missing
from herald.domain.events import EventType
from herald.domain.filters import TaskFilter
from herald.domain.release import (
    HostResult,
    HostStatus,
    Phase,
    Status,
    Strategy,
    Task,
    TaskSpec,
    TaskType,
)
from herald.domain.release_context import ReleaseContext
from herald.store.tables import events, task_hosts, tasks

HostRow = tuple[str, int | None, str, dt.datetime | None, dt.datetime | None]


class StaleTask(Conflict):
    """The task changed since it was loaded; reload and apply the change again."""


@dataclass
class LoadedTask:
    task: Task
    hosts_as_loaded: dict[str, HostRow]
    steps_as_loaded: tuple[CanaryStep, ...] = ()  # an external run may report a step's weight


def _host_row(result: HostResult) -> HostRow:
    return (
        result.status.value,
        result.exit_code,
        result.output,
        result.started_at,
        result.finished_at,
    )


def _spec(row: Any, hosts: list[str]) -> TaskSpec:
    return TaskSpec(
        project_id=row.project_id,
        version_id=row.version_id,
        type=TaskType(row.type),
        strategy=Strategy(row.strategy),
        environment=row.environment,
        hosts=hosts,
        canary_count=row.canary_count,
        batch_size=row.batch_size,
        max_failed=row.max_failed,
        executor=dict(row.executor),
        auto_promote_after=row.auto_promote_after,
        long_running_after=row.long_running_after,
        rollback_of=row.rollback_of,
        canary_steps=parse_steps(row.canary_steps),
        context=cast(ReleaseContext, dict(row.context or {})),  # stored normalised
        run_id=row.run_id,
    )


def _task(row: Any, host_rows: Sequence[Any], emitted: set[EventType], steps: set[int]) -> Task:
    results = {
        h.host: HostResult(
            host=h.host,
            status=HostStatus(h.status),
            exit_code=h.exit_code,
            output=h.output,
            started_at=h.started_at,
            finished_at=h.finished_at,
        )
        for h in host_rows
    }
    task = Task(
        id=row.id,
        spec=_spec(row, [h.host for h in host_rows]),
        created_at=row.created_at,
        status=Status(row.status),
        phase=Phase(row.phase) if row.phase else None,
        results=results,
        started_at=row.started_at,
        finished_at=row.finished_at,
        awaiting_since=row.awaiting_since,
        reason=row.reason,
        emitted=emitted,
        revision=row.revision,
        emitted_steps=steps,
    )
    if not task.is_active and task.finished_at is not None:
        # Tasks that ended before hosts had final statuses: read their hosts as settled.
        for result in results.values():
            result.settle(task.finished_at)
    return task


# Built once: constructing a statement costs more than running it on the release path.
_TASK = sa.select(tasks).where(tasks.c.id == sa.bindparam("task_id"))
_TASK_LOCKED = _TASK.with_for_update()
_HOSTS = (
    sa.select(task_hosts)
    .where(task_hosts.c.task_id == sa.bindparam("task_id"))
    .order_by(task_hosts.c.position)
)
_EMITTED = sa.select(events.c.event_type, events.c.occurrence).where(
    events.c.task_id == sa.bindparam("task_id")
)


def load_task(conn: Connection, task_id: str, *, for_update: bool = False) -> LoadedTask:
    locked = for_update and conn.dialect.name == "postgresql"
    params = {"task_id": task_id}
    row = conn.execute(_TASK_LOCKED if locked else _TASK, params).first()
    if row is None:
        raise missing("task", "task_id", task_id)
    host_rows = conn.execute(_HOSTS, params).all()
    emitted: set[EventType] = set()
    steps: set[int] = set()
    for kind, occurrence in conn.execute(_EMITTED, params):
        if kind == EventType.CANARY_STEP:
            steps.add(occurrence)
        else:
            emitted.add(EventType(kind))
    task = _task(row, host_rows, emitted, steps)
    hosts = {h: _host_row(r) for h, r in task.results.items()}
    return LoadedTask(task, hosts, task.spec.canary_steps)


def _state_values(task: Task) -> dict[str, Any]:
    return {
        "status": task.status.value,
        "phase": task.phase.value if task.phase else None,
        "reason": task.reason,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "awaiting_since": task.awaiting_since,
        "next_timer_at": task.next_timer_at(),
    }


def insert_task(conn: Connection, task: Task) -> None:
    spec = task.spec
    conn.execute(
        tasks.insert().values(
            id=task.id,
            project_id=spec.project_id,
            version_id=spec.version_id,
            type=spec.type.value,
            strategy=spec.strategy.value,
            environment=spec.environment,
            canary_count=spec.canary_count,
            batch_size=spec.batch_size,
            max_failed=spec.max_failed,
            executor=spec.executor,
            driver="engine" if task.driven_by_engine else "external",
            auto_promote_after=spec.auto_promote_after,
            long_running_after=spec.long_running_after,
            rollback_of=spec.rollback_of,
            canary_steps=steps_json(spec.canary_steps) if spec.canary_steps else None,
            context=dict(spec.context),
            run_id=spec.run_id,
            created_at=task.created_at,
            revision=task.revision,
            **_state_values(task),
        )
    )
    rows = []
    for i, host in enumerate(spec.hosts):
        status, exit_code, output, started_at, finished_at = _host_row(task.results[host])
        rows.append(
            {
                "task_id": task.id,
                "host": host,
                "position": i,
                "status": status,
                "exit_code": exit_code,
                "output": output,
                "started_at": started_at,
                "finished_at": finished_at,
            }
        )
    conn.execute(task_hosts.insert(), rows)


_STATE_COLUMNS = (
    "status",
    "phase",
    "reason",
    "started_at",
    "finished_at",
    "awaiting_since",
    "next_timer_at",
)
_SAVE = (
    tasks.update()
    .where(tasks.c.id == sa.bindparam("task_id"), tasks.c.revision == sa.bindparam("seen"))
    .values(
        revision=tasks.c.revision + 1,
        **{name: sa.bindparam(name, type_=tasks.c[name].type) for name in _STATE_COLUMNS},
    )
)


def save_task(conn: Connection, loaded: LoadedTask) -> None:
    """Write the task's state and changed hosts; `StaleTask` if someone saved it meanwhile."""
    task = loaded.task
    result = conn.execute(_SAVE, {"task_id": task.id, "seen": task.revision, **_state_values(task)})
    if result.rowcount != 1:
        raise StaleTask(f"task {task.id} was changed concurrently; try again")
    task.revision += 1
    if task.spec.canary_steps != loaded.steps_as_loaded:
        steps = steps_json(task.spec.canary_steps)
        conn.execute(tasks.update().where(tasks.c.id == task.id).values(canary_steps=steps))
        loaded.steps_as_loaded = task.spec.canary_steps
    changed = []
    for host, res in task.results.items():
        row = _host_row(res)
        if loaded.hosts_as_loaded.get(host) != row:
            changed.append(
                {"h": host, "s": row[0], "e": row[1], "o": row[2], "a": row[3], "f": row[4]}
            )
            loaded.hosts_as_loaded[host] = row
    if changed:
        conn.execute(
            task_hosts.update()
            .where(task_hosts.c.task_id == task.id, task_hosts.c.host == sa.bindparam("h"))
            .values(
                status=sa.bindparam("s"),
                exit_code=sa.bindparam("e"),
                output=sa.bindparam("o"),
                started_at=sa.bindparam("a"),
                finished_at=sa.bindparam("f"),
            ),
            changed,
        )


@dataclass(frozen=True)
class TaskListing:
    """A task as listings show it: no hosts, and host counts per status (`counts`, with their
    `total`) filled in by the release service."""

    id: str
    project_id: str
    version_id: str
    type: str
    strategy: str
    environment: str
    status: str
    phase: str | None
    reason: str | None
    rollback_of: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    run_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


_LISTING = tuple(f.name for f in fields(TaskListing) if f.name != "counts")


def list_tasks(
    conn: Connection, flt: TaskFilter, *, before: str | None, limit: int
) -> list[TaskListing]:
    """Tasks newest first, for listings."""
    columns = [tasks.c[name] for name in _LISTING]
    query = sa.select(*columns).order_by(tasks.c.id.desc()).limit(limit)
    if flt.project_ids is not None:
        query = query.where(tasks.c.project_id.in_(sorted(flt.project_ids)))
    for column, value in (
        (tasks.c.project_id, flt.project_id),
        (tasks.c.status, flt.status),
        (tasks.c.environment, flt.environment),
        (tasks.c.type, flt.type),
        (tasks.c.run_id, flt.run_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if before:
        query = query.where(tasks.c.id < before)
    return [TaskListing(**row._mapping) for row in conn.execute(query)]


def task_id_by_run(conn: Connection, project_id: str, run_id: str) -> str | None:
    """The id of the project's task for the external run `run_id`, if there is one."""
    row = conn.execute(
        sa.select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.run_id == run_id)
    ).first()
    return None if row is None else str(row.id)


def count_tasks(conn: Connection, project_id: str, statuses: Sequence[str] | None = None) -> int:
    """How many tasks the project has (with one of `statuses`, if given)."""
    query = sa.select(sa.func.count()).select_from(tasks).where(tasks.c.project_id == project_id)
    if statuses is not None:
        query = query.where(tasks.c.status.in_(list(statuses)))
    return int(conn.execute(query).scalar_one())


def host_counts(conn: Connection, task_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per task, how many hosts are in each host status."""
    counts: dict[str, dict[str, int]] = {t: {} for t in task_ids}
    if not task_ids:
        return counts
    query = (
        sa.select(task_hosts.c.task_id, task_hosts.c.status, sa.func.count())
        .where(task_hosts.c.task_id.in_(list(task_ids)))
        .group_by(task_hosts.c.task_id, task_hosts.c.status)
    )
    for task_id, status, n in conn.execute(query):
        counts[task_id][status] = n
    return counts


def last_successful_version(
    conn: Connection, project_id: str, environment: str, before: dt.datetime, exclude: str
) -> str | None:
    """The version of the newest successful deploy/rollback before `before`, other than `exclude`."""
    row = conn.execute(
        sa.select(tasks.c.version_id)
        .where(
            tasks.c.project_id == project_id,
            tasks.c.environment == environment,
            tasks.c.status == Status.SUCCESS.value,
            tasks.c.type.in_([TaskType.DEPLOY.value, TaskType.ROLLBACK.value]),
            tasks.c.version_id != exclude,
            tasks.c.created_at < before,
        )
        .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row.version_id)


def due_timer_task_ids(conn: Connection, now: dt.datetime, limit: int = 100) -> list[str]:
    query = (
        sa.select(tasks.c.id)
        .where(tasks.c.next_timer_at.is_not(None), tasks.c.next_timer_at <= now)
        .order_by(tasks.c.next_timer_at)
        .limit(limit)
    )
    return [r.id for r in conn.execute(query)]


def next_timer_at(conn: Connection) -> dt.datetime | None:
    value = conn.execute(sa.select(sa.func.min(tasks.c.next_timer_at))).scalar()
    return value if isinstance(value, dt.datetime) else None


def claim_engine_tasks(
    conn: Connection, owner: str, now: dt.datetime, lease_until: dt.datetime
) -> list[str]:
    """Lease every running engine-driven task that nobody (alive) drives; return the caller's.

    The lease is renewed by calling this again; a crashed engine's tasks become claimable when
    its lease runs out.
    """
    conn.execute(
        tasks.update()
        .where(
            tasks.c.driver == "engine",
            tasks.c.status == Status.RUNNING.value,
            sa.or_(
                tasks.c.engine_owner.is_(None),
                tasks.c.engine_owner == owner,
                tasks.c.engine_lease_until < now,
            ),
        )
        .values(engine_owner=owner, engine_lease_until=lease_until)
    )
    query = sa.select(tasks.c.id).where(
        tasks.c.engine_owner == owner, tasks.c.status == Status.RUNNING.value
    )
    return [r.id for r in conn.execute(query)]


def release_engine_tasks(conn: Connection, owner: str) -> None:
    conn.execute(
        tasks.update()
        .where(tasks.c.engine_owner == owner)
        .values(engine_owner=None, engine_lease_until=None)
    )

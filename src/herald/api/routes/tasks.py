"""Release tasks: create, inspect, drive (start, promote, stop, rollback, report), events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.api.schemas.release_schemas import (
    CanaryStepOut,
    Counts,
    EventOut,
    HostResultOut,
    StopRequest,
    TaskCreate,
    TaskOut,
    TaskReport,
    TaskSummary,
)
from herald.domain.canary_steps import parse_steps
from herald.domain.errors import missing
from herald.domain.events import format_duration
from herald.domain.filters import TaskFilter
from herald.domain.hosts import tally
from herald.domain.release import Status, Task, TaskSpec, TaskType
from herald.domain.release_context import normalise_context
from herald.engine.releases import HostReport
from herald.runtime.clock import Clock

router = APIRouter(tags=["tasks"], responses=ERRORS)


def _counts(by_status: dict[str, int]) -> Counts:
    return Counts(**tally(by_status))


def task_out(task: Task, clock: Clock) -> TaskOut:
    by_status: dict[str, int] = {}
    for result in task.results.values():
        by_status[result.status.value] = by_status.get(result.status.value, 0) + 1
    seconds = task.duration_seconds(clock.now())
    spec = task.spec
    return TaskOut(
        id=task.id,
        project_id=spec.project_id,
        version_id=spec.version_id,
        type=spec.type.value,
        strategy=spec.strategy.value,
        environment=spec.environment,
        status=task.status.value,
        phase=task.phase.value if task.phase else None,
        reason=task.reason,
        counts=_counts(by_status),
        rollback_of=spec.rollback_of,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        hosts=task.hosts,
        canary_count=spec.canary_count,
        canary_steps=_steps_out(task),
        batch_size=spec.batch_size,
        max_failed=spec.max_failed,
        executor=dict(spec.executor),
        context=dict(spec.context),
        run_id=spec.run_id,
        auto_promote_after=spec.auto_promote_after,
        long_running_after=spec.long_running_after,
        duration=format_duration(seconds),
        duration_seconds=round(seconds, 3),
        host_results=[
            HostResultOut(
                host=r.host,
                status=r.status.value,
                exit_code=r.exit_code,
                output=r.output,
                started_at=r.started_at,
                finished_at=r.finished_at,
            )
            for r in task.results.values()
        ],
    )


def _steps_out(task: Task) -> list[CanaryStepOut]:
    done, weights = task.steps_done, [s.weight for s in task.spec.canary_steps]
    return [
        CanaryStepOut(
            index=i, weight=weights[i - 1] if weights else None, hosts=count, done=i <= done
        )
        for i, count in enumerate(task.step_counts, start=1)
    ]


@router.post("/tasks", status_code=status.HTTP_201_CREATED, summary="Create a release task")
def create_task(body: TaskCreate, principal: PrincipalDep, c: ContainerDep) -> TaskOut:
    project_id = body.project_id or _project_named(body.project or "", principal, c)
    principal.require_write(project_id, unknown.project(project_id))
    version_id = body.version_id
    if version_id is None:
        version_id = c.catalog.ensure_version(project_id, body.version or "")[0].id
    spec = TaskSpec(
        project_id=project_id,
        version_id=version_id,
        type=body.type,
        strategy=body.strategy,
        environment=body.environment,
        hosts=body.hosts,
        canary_count=body.canary_count,
        batch_size=body.batch_size,
        max_failed=body.max_failed,
        executor=body.executor.model_dump(),
        auto_promote_after=body.auto_promote_after,
        long_running_after=body.long_running_after,
        canary_steps=parse_steps([s.model_dump() for s in body.canary_steps or []]),
        context=normalise_context(body.context),
        run_id=body.run_id,
    )
    return task_out(c.release.create_task(spec, principal), c.clock)


def _project_named(name: str, principal: PrincipalDep, c: ContainerDep) -> str:
    """The id of the project named `name`, answered as unknown if the token may not read it."""
    project = c.catalog.project_by_name(name)
    principal.require_read(project.id, missing("project", "project", name))
    return project.id


@router.get("/tasks", summary="List tasks, newest first")
def list_tasks(
    principal: PrincipalDep,
    c: ContainerDep,
    paging: PagingDep,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
    project: Annotated[
        str | None, Query(max_length=100, description="the project's name or id")
    ] = None,
    run_id: Annotated[str | None, Query(max_length=128)] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    type_: Annotated[TaskType | None, Query(alias="type")] = None,
) -> Page[TaskSummary]:
    # A project the token may not read filters like an unknown one: nothing matches.
    if project is not None:
        found = c.catalog.find_project(project)
        principal.require_read(found.id, missing("project", "project", project))
        if project_id is not None and project_id != found.id:
            return Page[TaskSummary](items=[], next_cursor=None)
        project_id = found.id
    flt = TaskFilter(
        project_ids=principal.visible_projects,
        project_id=project_id,
        run_id=run_id,
        status=status_.value if status_ else None,
        environment=environment,
        type=type_.value if type_ else None,
    )
    rows = c.release.list_tasks(flt, paging.cursor, paging.limit + 1)
    items = [TaskSummary.model_validate(r, from_attributes=True) for r in rows]
    return make_page(items, paging.limit, lambda t: t.id)


def _load(task_id: str, principal: PrincipalDep, c: ContainerDep, write: bool) -> Task:
    task = c.release.get_task(task_id)
    if write:
        principal.require_write(task.spec.project_id, unknown.task(task_id))
    else:
        principal.require_read(task.spec.project_id, unknown.task(task_id))
    return task


@router.get("/tasks/{task_id}", summary="Get a task with its progress and host results")
def get_task(task_id: str, principal: PrincipalDep, c: ContainerDep) -> TaskOut:
    return task_out(_load(task_id, principal, c, write=False), c.clock)


@router.post("/tasks/{task_id}/start", summary="Start a pending task")
def start_task(task_id: str, principal: PrincipalDep, c: ContainerDep) -> TaskOut:
    _load(task_id, principal, c, write=True)
    return task_out(c.release.start(task_id, principal), c.clock)


@router.post("/tasks/{task_id}/promote", summary="Promote a canary awaiting promotion")
def promote_task(task_id: str, principal: PrincipalDep, c: ContainerDep) -> TaskOut:
    _load(task_id, principal, c, write=True)
    return task_out(c.release.promote(task_id, principal), c.clock)


@router.post("/tasks/{task_id}/stop", summary="Stop an active task")
def stop_task(
    task_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    body: Annotated[StopRequest | None, Body()] = None,
) -> TaskOut:
    _load(task_id, principal, c, write=True)
    reason = body.reason if body else None
    stopped = c.release.stop(task_id, reason or f"stopped by {principal.name}", principal)
    return task_out(stopped, c.clock)


@router.post(
    "/tasks/{task_id}/rollback",
    status_code=status.HTTP_201_CREATED,
    summary="Create a rollback task to the previous successful version",
)
def rollback_task(task_id: str, principal: PrincipalDep, c: ContainerDep) -> TaskOut:
    _load(task_id, principal, c, write=True)
    return task_out(c.release.rollback(task_id, principal), c.clock)


@router.post("/tasks/{task_id}/report", summary="Report host results and/or status (external)")
def report_task(
    task_id: str, body: TaskReport, principal: PrincipalDep, c: ContainerDep
) -> TaskOut:
    _load(task_id, principal, c, write=True)
    results = [
        HostReport(r.host, r.status == "success", r.exit_code, r.output) for r in body.results
    ]
    step = body.step.index if body.step else None
    task = c.release.report(task_id, results, body.status, body.reason, principal, step=step)
    return task_out(task, c.clock)


@router.get("/tasks/{task_id}/events", summary="The events recorded for the task, in order")
def task_events(task_id: str, principal: PrincipalDep, c: ContainerDep) -> list[EventOut]:
    _load(task_id, principal, c, write=False)
    return [
        EventOut.model_validate(event, from_attributes=True)
        for event in c.release.task_events(task_id)
    ]

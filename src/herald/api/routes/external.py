"""`POST /events`: announce a release Herald did not run (see herald.engine.external_events)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PrincipalDep
from herald.api.routes.tasks import task_out
from herald.api.schemas.common_schemas import ERRORS
from herald.api.schemas.event_schemas import ExternalEventIn, ExternalEventOut
from herald.domain.errors import NotFound, missing

router = APIRouter(tags=["events"], responses=ERRORS)


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    summary="Record an event of an external release run (201; 200 with duplicate: true again)",
    responses={200: {"model": ExternalEventOut, "description": "applied before: a retry"}},
)
def post_event(
    body: ExternalEventIn, principal: PrincipalDep, c: ContainerDep, response: Response
) -> ExternalEventOut:
    project_id = _project_id(body, principal, c)
    principal.require_write(project_id, unknown.project(project_id))
    applied = c.external_events.apply(body.to_event(project_id), principal)
    if applied.duplicate:
        response.status_code = status.HTTP_200_OK
    return ExternalEventOut(
        task_id=applied.task.id,
        event_id=applied.event_id,
        event_type=applied.event_type,
        duplicate=applied.duplicate,
        task=task_out(applied.task, c.clock),
    )


def _project_id(body: ExternalEventIn, principal: PrincipalDep, c: ContainerDep) -> str:
    """The project's id; a project named but missing is created for a token that may create
    projects (admin), and answered as unknown otherwise."""
    if body.project_id is not None:
        return body.project_id
    name = body.project or ""
    try:
        project = c.catalog.project_by_name(name)
    except NotFound:
        if not principal.is_admin:
            raise
        project = c.catalog.ensure_project(name)
    principal.require_read(project.id, missing("project", "project", name))
    return project.id

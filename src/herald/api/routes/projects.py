"""Projects and their versions, by id or by name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.api.schemas.release_schemas import (
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    VersionCreate,
    VersionOut,
    VersionPut,
)
from herald.domain.errors import InvalidInput, missing
from herald.domain.labels import LABEL_PATTERN, is_label
from herald.domain.release import Project, Version
from herald.engine.catalog import ProjectChange

router = APIRouter(tags=["projects"], responses=ERRORS)
MAX_VERSION_NAME = 128
# The bounds and the label pattern are documented; the routes check them with their own message.
ProjectNameParam = Annotated[
    str, Path(min_length=1, max_length=100, json_schema_extra={"pattern": LABEL_PATTERN})
]
VersionNameParam = Annotated[
    str,
    Path(min_length=1, max_length=MAX_VERSION_NAME, json_schema_extra={"pattern": LABEL_PATTERN}),
]


def project_out(p: Project) -> ProjectOut:
    return ProjectOut(
        id=p.id,
        name=p.name,
        description=p.description,
        created_at=p.created_at,
        environments=list(p.environments),
        labels=p.labels,
    )


def version_out(v: Version) -> VersionOut:
    return VersionOut(
        id=v.id,
        project_id=v.project_id,
        name=v.name,
        description=v.description,
        created_at=v.created_at,
    )


@router.post("/projects", status_code=status.HTTP_201_CREATED, summary="Create a project (admin)")
def create_project(body: ProjectCreate, principal: PrincipalDep, c: ContainerDep) -> ProjectOut:
    principal.require_admin()
    return project_out(c.catalog.create_project(body.name, body.description, body.environments))


@router.get("/projects", summary="List the projects the token may see")
def list_projects(principal: PrincipalDep, c: ContainerDep, paging: PagingDep) -> Page[ProjectOut]:
    found = c.catalog.list_projects(principal.visible_projects, paging.cursor, paging.limit + 1)
    return make_page([project_out(p) for p in found], paging.limit, lambda p: p.id)


@router.get("/projects/by-name/{name}", summary="Get a project by its name")
def project_by_name(name: ProjectNameParam, principal: PrincipalDep, c: ContainerDep) -> ProjectOut:
    project = c.catalog.project_by_name(name)
    principal.require_read(project.id, missing("project", "project", name))
    return project_out(project)


@router.get("/projects/{project_id}", summary="Get a project")
def get_project(project_id: str, principal: PrincipalDep, c: ContainerDep) -> ProjectOut:
    principal.require_read(project_id, unknown.project(project_id))
    return project_out(c.catalog.get_project(project_id))


@router.patch(
    "/projects/{project_id}",
    summary="Rename a project, change its description or allowed environments (maintainer)",
)
def update_project(
    project_id: str, body: ProjectUpdate, principal: PrincipalDep, c: ContainerDep
) -> ProjectOut:
    principal.require_write(project_id, unknown.project(project_id))
    change = ProjectChange(body.name, body.description, body.environments)
    return project_out(c.catalog.update_project(project_id, change, principal))


@router.delete(
    "/projects/{project_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a project without tasks, with its versions and callback configs (admin)",
)
def delete_project(project_id: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    principal.require_read(project_id, unknown.project(project_id))
    principal.require_admin()
    c.catalog.delete_project(project_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/projects/{project_id}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Register a version of the project (409 with the existing id if the name is taken)",
)
def create_version(
    project_id: str, body: VersionCreate, principal: PrincipalDep, c: ContainerDep
) -> VersionOut:
    principal.require_write(project_id, unknown.project(project_id))
    return version_out(c.catalog.create_version(project_id, body.name, body.description))


@router.put(
    "/projects/{project_id}/versions/{name}",
    status_code=status.HTTP_200_OK,
    summary="Create-or-get a version by name: 201 when created, 200 with the existing one",
    responses={201: {"model": VersionOut, "description": "created"}},
)
def put_version(
    project_id: str,
    name: VersionNameParam,
    principal: PrincipalDep,
    c: ContainerDep,
    response: Response,
    body: VersionPut | None = None,
) -> VersionOut:
    principal.require_write(project_id, unknown.project(project_id))
    if not (len(name) <= MAX_VERSION_NAME and is_label(name)):
        raise InvalidInput(
            f"version name must be 1-{MAX_VERSION_NAME} characters, without control characters "
            "or surrounding spaces",
            {"field": "name"},
        )
    description = body.description if body else ""
    version, created = c.catalog.ensure_version(project_id, name, description)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return version_out(version)


@router.get("/projects/{project_id}/versions", summary="List the project's versions, newest first")
def list_versions(
    project_id: str, principal: PrincipalDep, c: ContainerDep, paging: PagingDep
) -> Page[VersionOut]:
    principal.require_read(project_id, unknown.project(project_id))
    found = c.catalog.list_versions(project_id, paging.cursor, paging.limit + 1)
    return make_page([version_out(v) for v in found], paging.limit, lambda v: v.id)

"""Projects and their versions."""

from __future__ import annotations

from fastapi import APIRouter, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.api.schemas.release_schemas import ProjectCreate, ProjectOut, VersionCreate, VersionOut
from herald.domain.release import Project, Version

router = APIRouter(tags=["projects"], responses=ERRORS)


def project_out(p: Project) -> ProjectOut:
    return ProjectOut(
        id=p.id, name=p.name, description=p.description, created_at=p.created_at, labels=p.labels
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
    return project_out(c.catalog.create_project(body.name, body.description))


@router.get("/projects", summary="List the projects the token may see")
def list_projects(principal: PrincipalDep, c: ContainerDep, paging: PagingDep) -> Page[ProjectOut]:
    found = c.catalog.list_projects(principal.visible_projects, paging.cursor, paging.limit + 1)
    return make_page([project_out(p) for p in found], paging.limit, lambda p: p.id)


@router.get("/projects/{project_id}", summary="Get a project")
def get_project(project_id: str, principal: PrincipalDep, c: ContainerDep) -> ProjectOut:
    principal.require_read(project_id, unknown.project(project_id))
    return project_out(c.catalog.get_project(project_id))


@router.post(
    "/projects/{project_id}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Register a version of the project",
)
def create_version(
    project_id: str, body: VersionCreate, principal: PrincipalDep, c: ContainerDep
) -> VersionOut:
    principal.require_write(project_id, unknown.project(project_id))
    return version_out(c.catalog.create_version(project_id, body.name, body.description))


@router.get("/projects/{project_id}/versions", summary="List the project's versions, newest first")
def list_versions(
    project_id: str, principal: PrincipalDep, c: ContainerDep, paging: PagingDep
) -> Page[VersionOut]:
    principal.require_read(project_id, unknown.project(project_id))
    found = c.catalog.list_versions(project_id, paging.cursor, paging.limit + 1)
    return make_page([version_out(v) for v in found], paging.limit, lambda v: v.id)

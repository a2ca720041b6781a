"""Organisation rules: callback configs without a project (admins) that reach every project, or
those carrying chosen labels; a project's labels, and the rules that reach it."""

from __future__ import annotations

from fastapi import APIRouter, status

from herald.api import unknown
from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.routes.callbacks import config_out
from herald.api.schemas.callback_schemas import ConfigIn, ConfigOut
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.api.schemas.destination_schemas import LabelsIn, ProjectLabelsOut

router = APIRouter(tags=["organisation rules"], responses=ERRORS)


@router.get("/rules", summary="The organisation rules (admin)")
def list_rules(principal: PrincipalDep, c: ContainerDep, paging: PagingDep) -> Page[ConfigOut]:
    principal.require_admin()
    found = c.callbacks.configs(
        visible=None, project_id=None, after=paging.cursor, limit=paging.limit + 1, org_rules=True
    )
    return make_page([config_out(cfg) for cfg in found], paging.limit, lambda cfg: cfg.id)


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    summary="Create an organisation rule: a config for every project, or those with labels (admin)",
)
def create_rule(body: ConfigIn, principal: PrincipalDep, c: ContainerDep) -> ConfigOut:
    principal.require_admin()
    return config_out(c.callbacks.create(None, body, principal))


@router.get("/projects/{project_id}/rules", summary="The organisation rules that reach the project")
def project_rules(project_id: str, principal: PrincipalDep, c: ContainerDep) -> list[ConfigOut]:
    principal.require_read(project_id, unknown.project(project_id))
    return [config_out(cfg) for cfg in c.callbacks.rules_reaching(project_id)]


@router.put(
    "/projects/{project_id}/labels",
    summary="Replace the project's labels, which organisation rules select by (admin)",
)
def put_labels(
    project_id: str, body: LabelsIn, principal: PrincipalDep, c: ContainerDep
) -> ProjectLabelsOut:
    # A project the caller may not read is unknown to it, as everywhere; then admins only.
    principal.require_read(project_id, unknown.project(project_id))
    principal.require_admin()
    project = c.catalog.set_labels(project_id, dict(body.labels), principal)
    return ProjectLabelsOut(project_id=project.id, labels=project.labels)

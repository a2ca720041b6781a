"""The audit log: who changed which config, token or task, when, before and after (secrets
masked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from herald.api.deps import ContainerDep, PagingDep, PrincipalDep, make_page
from herald.api.schemas.callback_schemas import AuditOut
from herald.api.schemas.common_schemas import ERRORS, Page
from herald.domain.filters import AuditFilter

router = APIRouter(tags=["audit"], responses=ERRORS)

ACTION = r"^[a-z_]+(\.[a-z_]+)?$"


@router.get("/audit", summary="Audit log entries, newest first")
def audit_log(
    principal: PrincipalDep,
    c: ContainerDep,
    paging: PagingDep,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
    resource_id: Annotated[str | None, Query(max_length=36)] = None,
    task_id: Annotated[
        str | None, Query(max_length=36, description="entries about this task")
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=50,
            pattern=ACTION,
            description="an action such as `task.stop`, or a family such as `task`",
        ),
    ] = None,
) -> Page[AuditOut]:
    # Entries of projects the token may not read never match (an unknown project_id neither).
    flt = AuditFilter(
        project_ids=principal.visible_projects,
        project_id=project_id,
        resource_id=resource_id,
        task_id=task_id,
        action=action,
    )
    entries = c.audit.entries(flt, before=paging.cursor, limit=paging.limit + 1)
    items = [AuditOut.model_validate(e, from_attributes=True) for e in entries]
    return make_page(items, paging.limit, lambda e: e.id)

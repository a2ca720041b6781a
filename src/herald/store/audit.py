"""The audit log: who changed what, when, with before/after images (secrets already masked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.access import Principal
from herald.domain.ids import new_id
from herald.store.tables import audit_log


def record(
    conn: Connection,
    actor: Principal | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    project_id: str | None,
    before: Any,
    after: Any,
    at: dt.datetime,
) -> None:
    conn.execute(
        audit_log.insert().values(
            id=new_id(),
            at=at,
            actor_id=actor.token_id if actor else None,
            actor_name=actor.name if actor else "system",
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            project_id=project_id,
            before=before,
            after=after,
        )
    )


def list_entries(
    conn: Connection,
    *,
    project_ids: set[str] | None,
    project_id: str | None,
    resource_id: str | None,
    before: str | None,
    limit: int,
) -> list[Any]:
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if project_ids is not None:
        query = query.where(audit_log.c.project_id.in_(sorted(project_ids)))
    if project_id is not None:
        query = query.where(audit_log.c.project_id == project_id)
    if resource_id is not None:
        query = query.where(audit_log.c.resource_id == resource_id)
    if before:
        query = query.where(audit_log.c.id < before)
    return list(conn.execute(query))

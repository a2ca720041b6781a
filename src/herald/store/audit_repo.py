"""The audit log: who changed what, when, with before/after images (secrets already masked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.filters import AuditFilter
from herald.domain.ids import new_id
from herald.store.tables import audit_log


class Actor(Protocol):
    """Who acted: an API token (`herald.access.roles.Principal` is one)."""

    @property
    def token_id(self) -> str: ...

    @property
    def name(self) -> str: ...


def record(
    conn: Connection,
    actor: Actor | None,
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


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: dt.datetime
    actor_id: str | None
    actor_name: str
    action: str
    resource_type: str
    resource_id: str
    project_id: str | None
    before: dict[str, Any] | None  # masked images of the resource
    after: dict[str, Any] | None


def list_entries(
    conn: Connection, flt: AuditFilter, *, before: str | None, limit: int
) -> list[AuditEntry]:
    """Entries newest first, those with ids below `before` (a page's last id) when given."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if flt.project_ids is not None:
        query = query.where(audit_log.c.project_id.in_(sorted(flt.project_ids)))
    for column, value in (
        (audit_log.c.project_id, flt.project_id),
        (audit_log.c.resource_id, flt.resource_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if flt.task_id is not None:
        query = query.where(
            audit_log.c.resource_type == "task", audit_log.c.resource_id == flt.task_id
        )
    if flt.action is not None and "." in flt.action:
        query = query.where(audit_log.c.action == flt.action)
    elif flt.action is not None:
        query = query.where(audit_log.c.action.startswith(flt.action + ".", autoescape=True))
    if before:
        query = query.where(audit_log.c.id < before)
    return [AuditEntry(**row._mapping) for row in conn.execute(query)]

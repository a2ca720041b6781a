"""External events already applied to a task (`POST /events`): one row per (task, event key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.store.tables import external_events


@dataclass(frozen=True)
class AppliedEvent:
    task_id: str
    event_key: str
    event_id: str | None  # the Herald event it emitted; None when it emitted none
    event_type: str
    created_at: dt.datetime


def find(conn: Connection, task_id: str, event_key: str) -> AppliedEvent | None:
    row = conn.execute(
        sa.select(external_events).where(
            external_events.c.task_id == task_id, external_events.c.event_key == event_key
        )
    ).first()
    return None if row is None else AppliedEvent(**row._mapping)


def record(conn: Connection, applied: AppliedEvent) -> None:
    """Insert the row; a concurrent twin breaks the primary key (`StoreConflict` at commit)."""
    conn.execute(external_events.insert().values(**applied.__dict__))

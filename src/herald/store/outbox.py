"""The event outbox: events are inserted in the transaction of the state change causing them.

On PostgreSQL the insert also issues `NOTIFY herald_events`, which the server delivers only when
the transaction commits, so listening workers wake for committed events and never for rolled
back ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.events import EventContext, EventPayload
from herald.store.tables import events

EVENTS_CHANNEL = "herald_events"
_INSERT = events.insert()
_NOTIFY = sa.select(sa.func.pg_notify(EVENTS_CHANNEL, ""))


def insert_event(
    conn: Connection,
    *,
    event_id: str,
    task_id: str,
    project_id: str,
    payload: EventPayload,
    context: EventContext,
    created_at: dt.datetime,
    seq: int,
    occurrence: int = 0,
) -> None:
    """Insert an event; a second event of the same task, type and `occurrence` (a canary
    step's index, else 0) violates the table's unique constraint."""
    conn.execute(
        _INSERT,
        {
            "id": event_id,
            "task_id": task_id,
            "project_id": project_id,
            "event_type": payload["event_type"],
            "payload": dict(payload),
            "context": dict(context),
            "created_at": created_at,
            "seq": seq,
            "occurrence": occurrence,
        },
    )
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY)


@dataclass(frozen=True)
class StoredEvent:
    id: str
    task_id: str
    project_id: str
    event_type: str
    payload: EventPayload  # the PRD §3.3 standard message
    context: EventContext
    seq: int
    created_at: dt.datetime


def events_for_task(conn: Connection, task_id: str) -> list[StoredEvent]:
    """The task's events in the order they happened."""
    e = events.c
    query = (
        sa.select(
            e.id, e.task_id, e.project_id, e.event_type, e.payload, e.context, e.seq, e.created_at
        )
        .where(e.task_id == task_id)
        .order_by(e.seq, e.created_at, e.id)
    )
    return [StoredEvent(**row._mapping) for row in conn.execute(query)]

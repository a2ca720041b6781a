"""The event outbox: events are inserted in the transaction of the state change causing them.

On PostgreSQL the insert also issues `NOTIFY herald_events`, which the server delivers only when
the transaction commits, so listening workers wake for committed events and never for rolled
back ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

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
) -> None:
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
        },
    )
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY)


def events_for_task(conn: Connection, task_id: str) -> Sequence[Any]:
    return conn.execute(
        sa.select(events)
        .where(events.c.task_id == task_id)
        .order_by(events.c.seq, events.c.created_at, events.c.id)
    ).all()

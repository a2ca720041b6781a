"""What the metrics endpoint reads from the store when scraped: the queue per channel type and
every target's circuit, so each process reports the shared truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.store.delivery_state import PENDING
from herald.store.tables import deliveries, targets


@dataclass(frozen=True)
class QueueDepth:
    channel_type: str
    pending: int
    oldest_created_at: dt.datetime | None


@dataclass(frozen=True)
class CircuitGauge:
    target_key: str
    channel_type: str
    circuit: str


def queue_depths(conn: Connection) -> list[QueueDepth]:
    d = deliveries.c
    query = (
        sa.select(d.channel_type, sa.func.count(), sa.func.min(d.created_at))
        .where(d.status == PENDING)
        .group_by(d.channel_type)
    )
    return [QueueDepth(channel, n, oldest) for channel, n, oldest in conn.execute(query)]


def circuits(conn: Connection) -> list[CircuitGauge]:
    t = targets.c
    query = sa.select(t.key, t.channel_type, t.circuit)
    return [CircuitGauge(key, channel, state) for key, channel, state in conn.execute(query)]

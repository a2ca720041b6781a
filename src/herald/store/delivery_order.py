"""Delivery order and concurrency per target: the SQL the claim uses to keep one task's
notifications to a destination in event order, and to count the requests in flight.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryKind, DeliveryStatus
from herald.store.claim_types import Claimed
from herald.store.delivery_state import FAILED, PENDING
from herald.store.tables import deliveries


def earlier_pending(delivery: Any) -> sa.Exists:
    """Is an earlier event of `delivery`'s task to the same target still pending?"""
    earlier = deliveries.alias("earlier")
    return sa.exists().where(
        earlier.c.target_key == delivery.target_key,
        earlier.c.task_id == delivery.task_id,
        earlier.c.status == PENDING,
        earlier.c.seq < delivery.seq,
    )


def in_flight_count(target_key: Any, now: dt.datetime) -> sa.ScalarSelect[int]:
    leased = deliveries.alias("leased")
    return (
        sa.select(sa.func.count())
        .where(
            leased.c.target_key == target_key,
            leased.c.lease_owner.is_not(None),
            leased.c.lease_until > now,
        )
        .scalar_subquery()
    )


def in_flight(conn: Connection, rows: Sequence[Any], now: dt.datetime) -> Counter[str]:
    """Requests in flight per target of `rows`, counted after their target rows were locked:
    another worker's claim for the same target has committed by then, so its leases count."""
    d = deliveries.c
    query = (
        sa.select(d.target_key, sa.func.count().label("n"))
        .where(
            d.target_key.in_(sorted({r.target_key for r in rows})),
            d.lease_owner.is_not(None),
            d.lease_until > now,
        )
        .group_by(d.target_key)
    )
    return Counter({row.target_key: row.n for row in conn.execute(query)})


def note_missed(conn: Connection, claimed: Sequence[Claimed]) -> None:
    """Tell each claimed event delivery which earlier events of its task never reached its
    target: every delivery of them to the target failed for good."""
    tasks = sorted({c.task_id for c in claimed if c.kind == DeliveryKind.EVENT and c.task_id})
    if not tasks:
        return
    d = deliveries.c
    failed = conn.execute(
        sa.select(d.target_key, d.task_id, d.event_type, d.seq).where(
            d.task_id.in_(tasks), d.status == FAILED, d.kind == DeliveryKind.EVENT
        )
    ).all()
    if not failed:
        return
    # An event is told apart by its type and ordinal: a task has several canary_step events.
    delivered = {
        (r.target_key, r.task_id, r.event_type, r.seq)
        for r in conn.execute(
            sa.select(d.target_key, d.task_id, d.event_type, d.seq).where(
                d.task_id.in_(sorted({f.task_id for f in failed})),
                d.status == DeliveryStatus.SUCCESS,
            )
        )
    }
    lost = [f for f in failed if (f.target_key, f.task_id, f.event_type, f.seq) not in delivered]
    for item in claimed:
        missed = sorted(
            (f.seq, f.event_type)
            for f in lost
            if (f.target_key, f.task_id) == (item.target_key, item.task_id)
            and item.seq is not None
            and f.seq is not None
            and f.seq < item.seq
        )
        item.missed_before = tuple(dict.fromkeys(event for _, event in missed))

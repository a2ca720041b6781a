"""Digests (批量回调): merging a target's backlog into one message, each merged delivery pointing
at its digest so nothing disappears from the history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryKind, DeliveryStatus, Trigger
from herald.domain.dispatch import MAX_DIGEST, Candidate, TargetPlan
from herald.domain.ids import new_id
from herald.store.delivery_state import PENDING, not_leased
from herald.store.tables import deliveries


def backlog_of(conn: Connection, key: str, now: dt.datetime) -> list[Candidate]:
    """The target's pending deliveries not in flight and not in a digest, oldest first, each
    with how many earlier deliveries of its task to the target are pending (see
    `domain.dispatch.mergeable`)."""
    d = deliveries.c
    earlier = deliveries.alias("earlier")
    pending_before = (
        sa.select(sa.func.count())
        .where(
            earlier.c.target_key == d.target_key,
            earlier.c.task_id == d.task_id,
            earlier.c.status == PENDING,
            earlier.c.seq < d.seq,
        )
        .scalar_subquery()
    )
    query = (
        sa.select(d.id, d.kind, d.task_id, d.seq, pending_before.label("pending_before"))
        .where(
            d.target_key == key,
            d.status == DeliveryStatus.PENDING,
            d.digest_id.is_(None),
            not_leased(now),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(MAX_DIGEST * 2)
    )
    return [
        Candidate(r.id, r.kind, r.task_id, r.seq, r.pending_before) for r in conn.execute(query)
    ]


def merge_into_digest(
    conn: Connection, key: str, plan: TargetPlan, sample: Any, now: dt.datetime, attempts: int
) -> str | None:
    """Point the merged deliveries at a pending digest (reusing one not yet tried).

    Returns the digest's id when it is due now, so the caller leases it with this batch.
    """
    d = deliveries.c
    existing = conn.execute(
        sa.select(deliveries).where(
            d.target_key == key,
            d.kind == DeliveryKind.DIGEST,
            d.status == DeliveryStatus.PENDING,
            d.attempts == 0,
            not_leased(now),
        )
    ).first()
    due_at = dt.datetime.fromtimestamp(plan.digest_at or now.timestamp(), dt.UTC)
    digest_id = existing.id if existing else new_id()
    if existing is None:
        conn.execute(
            deliveries.insert().values(**_digest_row(digest_id, sample, due_at, now, attempts))
        )
    conn.execute(
        deliveries.update().where(d.id.in_(plan.merge)).values(digest_id=digest_id, updated_at=now)
    )
    size = conn.execute(sa.select(sa.func.count()).where(d.digest_id == digest_id)).scalar_one()
    conn.execute(
        deliveries.update()
        .where(d.id == digest_id)
        .values(
            digest_size=size,
            next_attempt_at=min(due_at, existing.next_attempt_at) if existing else due_at,
            updated_at=now,
        )
    )
    return digest_id if plan.digest_now else None


def _digest_row(
    digest_id: str, sample: Any, due_at: dt.datetime, now: dt.datetime, attempts: int
) -> dict[str, Any]:
    return {
        "id": digest_id,
        "kind": DeliveryKind.DIGEST,
        "event_id": None,
        "config_id": sample.config_id,
        "channel_id": sample.channel_id,
        "project_id": sample.project_id,
        "task_id": None,
        "event_type": DeliveryKind.DIGEST,  # a digest is about several events
        "channel_type": sample.channel_type,
        "target_key": sample.target_key,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "max_attempts": attempts,
        "trigger": Trigger.SCHEDULED,
        "next_attempt_at": due_at,
        "created_at": now,
        "updated_at": now,
    }

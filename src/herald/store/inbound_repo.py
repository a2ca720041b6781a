"""Inbound webhook sources and the log of the requests received for them.

The store moves data only: a source's secret arrives and leaves encrypted (`herald.inbound`
encrypts and decrypts it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.errors import Conflict, missing
from herald.store.tables import inbound_deliveries, inbound_sources


@dataclass(frozen=True)
class SourceRecord:
    id: str
    project_id: str
    kind: str
    name: str
    secret: str  # encrypted
    created_by: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class InboundDeliveryRecord:
    id: str
    source_id: str
    received_at: dt.datetime
    verdict: str
    status_code: int
    platform_event: str | None
    delivery_key: str | None
    event_type: str | None
    run_id: str | None
    task_id: str | None
    reason: str


def _source(row: Any) -> SourceRecord:
    return SourceRecord(
        id=row.id,
        project_id=row.project_id,
        kind=row.kind,
        name=row.name,
        secret=row.secret,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _delivery(row: Any) -> InboundDeliveryRecord:
    return InboundDeliveryRecord(
        id=row.id,
        source_id=row.source_id,
        received_at=row.received_at,
        verdict=row.verdict,
        status_code=row.status_code,
        platform_event=row.platform_event,
        delivery_key=row.delivery_key,
        event_type=row.event_type,
        run_id=row.run_id,
        task_id=row.task_id,
        reason=row.reason,
    )


def insert_source(conn: Connection, source: SourceRecord) -> None:
    clash = conn.execute(
        sa.select(inbound_sources.c.id).where(
            inbound_sources.c.project_id == source.project_id,
            inbound_sources.c.name == source.name,
        )
    ).first()
    if clash:
        raise Conflict(
            f"the project already has an inbound source named {source.name!r}",
            {"name": source.name},
        )
    conn.execute(
        inbound_sources.insert().values(
            id=source.id,
            project_id=source.project_id,
            kind=source.kind,
            name=source.name,
            secret=source.secret,
            created_by=source.created_by,
            created_at=source.created_at,
        )
    )


def get_source(conn: Connection, source_id: str) -> SourceRecord:
    row = conn.execute(sa.select(inbound_sources).where(inbound_sources.c.id == source_id)).first()
    if row is None:
        raise missing("inbound source", "source_id", source_id)
    return _source(row)


def list_sources(conn: Connection, project_id: str) -> list[SourceRecord]:
    query = (
        sa.select(inbound_sources)
        .where(inbound_sources.c.project_id == project_id)
        .order_by(inbound_sources.c.id)
    )
    return [_source(r) for r in conn.execute(query)]


def delete_source(conn: Connection, source_id: str) -> None:
    """Delete the source and its delivery log (explicitly: SQLite may not enforce cascades)."""
    conn.execute(inbound_deliveries.delete().where(inbound_deliveries.c.source_id == source_id))
    conn.execute(inbound_sources.delete().where(inbound_sources.c.id == source_id))


def insert_delivery(conn: Connection, delivery: InboundDeliveryRecord) -> None:
    conn.execute(
        inbound_deliveries.insert().values(
            id=delivery.id,
            source_id=delivery.source_id,
            received_at=delivery.received_at,
            verdict=delivery.verdict,
            status_code=delivery.status_code,
            platform_event=delivery.platform_event,
            delivery_key=delivery.delivery_key,
            event_type=delivery.event_type,
            run_id=delivery.run_id,
            task_id=delivery.task_id,
            reason=delivery.reason,
        )
    )


def prune_deliveries(conn: Connection, source_id: str, keep: int) -> None:
    """Keep only the source's newest `keep` deliveries: the receiving route is open to anyone
    who knows a source's URL, so its log must not grow without bound."""
    cutoff = conn.execute(
        sa.select(inbound_deliveries.c.id)
        .where(inbound_deliveries.c.source_id == source_id)
        .order_by(inbound_deliveries.c.id.desc())
        .offset(keep)
        .limit(1)
    ).scalar()
    if cutoff is not None:
        conn.execute(
            inbound_deliveries.delete().where(
                inbound_deliveries.c.source_id == source_id, inbound_deliveries.c.id <= cutoff
            )
        )


def list_deliveries(
    conn: Connection, source_id: str, *, before: str | None, limit: int
) -> list[InboundDeliveryRecord]:
    """The source's deliveries, newest first (ids are UUIDv7, so they sort by time)."""
    query = (
        sa.select(inbound_deliveries)
        .where(inbound_deliveries.c.source_id == source_id)
        .order_by(inbound_deliveries.c.id.desc())
        .limit(limit)
    )
    if before:
        query = query.where(inbound_deliveries.c.id < before)
    return [_delivery(r) for r in conn.execute(query)]

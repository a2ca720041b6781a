"""History queries: deliveries with their latest attempt, attempts, digest members, stats,
targets. Every query returns frozen dataclasses (`herald.history` shapes them for people)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryKind, DeliveryStatus
from herald.domain.errors import Conflict, missing
from herald.domain.filters import HistoryFilter
from herald.store import delivery_state
from herald.store.tables import (
    callback_channels,
    callback_configs,
    deliveries,
    delivery_attempts,
    targets,
)


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    kind: DeliveryKind
    event_id: str | None
    config_id: str
    channel_id: str
    project_id: str
    task_id: str | None
    event_type: str
    channel_type: str
    target_key: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime
    last_outcome: str | None
    last_code: str | None
    last_error: str | None
    digest_id: str | None
    digest_size: int | None
    mute_id: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class AttemptRow:
    id: str
    delivery_id: str
    attempt: int
    trigger: str
    outcome: str
    request: dict[str, Any]  # as sent, secrets redacted (JSON)
    response_status: int | None
    response: str | None  # the response body, capped
    platform_code: str | None
    error: str | None
    latency_ms: float
    note: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class DigestMemberRow:
    id: str
    event_id: str | None
    task_id: str | None
    event_type: str
    status: DeliveryStatus


@dataclass(frozen=True)
class StatusCount:
    channel_type: str
    event_type: str
    status: DeliveryStatus
    count: int


@dataclass(frozen=True)
class LatencySample:
    channel_type: str
    event_type: str
    latency_ms: float


@dataclass(frozen=True)
class TargetRow:
    key: str
    channel_type: str
    description: str
    sends: list[float]  # recent send times (Unix s), newest last
    penalty_until: float | None
    circuit: str
    failures: int
    probe_at: float | None
    last_error: str | None


def _columns(table: sa.Table, model: type[Any]) -> list[sa.Column[Any]]:
    return [table.c[f.name] for f in fields(model)]


def _delivery(row: sa.Row[Any]) -> DeliveryRow:
    values = dict(row._mapping)
    values["kind"] = DeliveryKind(values["kind"])
    values["status"] = DeliveryStatus(values["status"])
    return DeliveryRow(**values)


_DELIVERY = _columns(deliveries, DeliveryRow)
_ATTEMPT = [
    delivery_attempts.c.response_body.label("response")
    if f.name == "response"
    else delivery_attempts.c[f.name]
    for f in fields(AttemptRow)
]


# `kind=notification`: what release events caused (events and digests), without test sends.
NOTIFICATIONS = "notification"


def _where(query: sa.Select[Any], flt: HistoryFilter) -> sa.Select[Any]:
    d = deliveries.c
    if flt.visible is not None:
        query = query.where(d.project_id.in_(sorted(flt.visible)))
    for column, value in (
        (d.project_id, flt.project_id),
        (d.task_id, flt.task_id),
        (d.config_id, flt.config_id),
        (d.channel_type, flt.channel_type),
        (d.event_type, flt.event_type),
        (d.status, flt.status),
        (d.kind, None if flt.kind == NOTIFICATIONS else flt.kind),
    ):
        if value is not None:
            query = query.where(column == value)
    if flt.kind == NOTIFICATIONS:
        query = query.where(d.kind != DeliveryKind.TEST.value)
    if flt.since is not None:
        query = query.where(d.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(d.created_at < flt.until)
    return query


def list_deliveries(
    conn: Connection, flt: HistoryFilter, *, before: str | None, limit: int
) -> tuple[list[DeliveryRow], dict[str, AttemptRow]]:
    """Deliveries newest first, and the latest attempt of each (by delivery id)."""
    query = _where(sa.select(*_DELIVERY), flt).order_by(deliveries.c.id.desc()).limit(limit)
    if before:
        query = query.where(deliveries.c.id < before)
    rows = [_delivery(r) for r in conn.execute(query)]
    return rows, latest_attempts(conn, [r.id for r in rows])


def latest_attempts(conn: Connection, delivery_ids: Sequence[str]) -> dict[str, AttemptRow]:
    if not delivery_ids:
        return {}
    a = delivery_attempts.c
    newest = (
        sa.select(a.delivery_id, sa.func.max(a.attempt).label("n"))
        .where(a.delivery_id.in_(list(delivery_ids)))
        .group_by(a.delivery_id)
        .subquery()
    )
    query = sa.select(*_ATTEMPT).join(
        newest, sa.and_(a.delivery_id == newest.c.delivery_id, a.attempt == newest.c.n)
    )
    return {r.delivery_id: AttemptRow(**r._mapping) for r in conn.execute(query)}


def get_delivery(conn: Connection, delivery_id: str) -> DeliveryRow:
    query = sa.select(*_DELIVERY).where(deliveries.c.id == delivery_id)
    row = conn.execute(query).first()
    if row is None:
        raise missing("delivery", "delivery_id", delivery_id)
    return _delivery(row)


def attempts_of(conn: Connection, delivery_id: str) -> list[AttemptRow]:
    a = delivery_attempts.c
    query = sa.select(*_ATTEMPT).where(a.delivery_id == delivery_id).order_by(a.attempt, a.id)
    return [AttemptRow(**r._mapping) for r in conn.execute(query)]


def digest_members(conn: Connection, digest_id: str) -> list[DigestMemberRow]:
    d = deliveries.c
    query = (
        sa.select(d.id, d.event_id, d.task_id, d.event_type, d.status)
        .where(d.digest_id == digest_id)
        .order_by(d.id)
    )
    return [
        DigestMemberRow(r.id, r.event_id, r.task_id, r.event_type, DeliveryStatus(r.status))
        for r in conn.execute(query)
    ]


def resend(conn: Connection, delivery_id: str, now: dt.datetime) -> None:
    """Queue one more attempt now, outside the automatic schedule (a failed resend stays failed)."""
    row = get_delivery(conn, delivery_id)
    if row.status == DeliveryStatus.PENDING:
        raise Conflict(f"delivery {delivery_id} is still pending; it will be sent as scheduled")
    if row.status == DeliveryStatus.MUTED:
        raise Conflict(
            f"delivery {delivery_id} is held by a mute window; release it (sent in its task's "
            "order) or drop it instead"
        )
    delivery_state.resend(conn, delivery_id, row.attempts, now)


def stats_rows(conn: Connection, flt: HistoryFilter) -> list[StatusCount]:
    d = deliveries.c
    query = _where(
        sa.select(d.channel_type, d.event_type, d.status, sa.func.count().label("n")).group_by(
            d.channel_type, d.event_type, d.status
        ),
        flt,
    ).where(d.kind != DeliveryKind.DIGEST)
    return [
        StatusCount(channel, event, DeliveryStatus(status), n)
        for channel, event, status, n in conn.execute(query)
    ]


def latencies(conn: Connection, flt: HistoryFilter, cap: int = 200_000) -> list[LatencySample]:
    """The answered attempts of the deliveries `flt` selects, newest first."""
    a, d = delivery_attempts.c, deliveries.c
    query = (
        sa.select(a.channel_type, a.event_type, a.latency_ms)
        .join(deliveries, d.id == a.delivery_id)
        .where(a.response_status.is_not(None), d.kind != DeliveryKind.DIGEST)
        .order_by(a.id.desc())
        .limit(cap)
    )
    return [LatencySample(*r) for r in conn.execute(_where(query, flt))]


def list_targets(conn: Connection, visible: set[str] | None) -> list[TargetRow]:
    query = sa.select(*_columns(targets, TargetRow)).order_by(targets.c.key)
    if visible is not None:
        keys = (
            sa.select(callback_channels.c.target_key)
            .join(callback_configs, callback_channels.c.config_id == callback_configs.c.id)
            .where(callback_configs.c.project_id.in_(sorted(visible)))
        )
        query = query.where(targets.c.key.in_(keys))
    return [TargetRow(**r._mapping) for r in conn.execute(query)]


def pending_counts(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    d = deliveries.c
    query = (
        sa.select(d.target_key, sa.func.count())
        .where(d.status == DeliveryStatus.PENDING, d.target_key.in_(list(keys)))
        .group_by(d.target_key)
    )
    return {str(k): int(n) for k, n in conn.execute(query).all()}

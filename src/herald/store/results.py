"""Writing attempt results back: history rows, delivery state, target circuit state, in batches.

A result applies to its delivery only while the claim token still matches (fencing); the attempt
itself is always recorded, because it happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.breaker import Circuit
from herald.domain.ids import new_id
from herald.store.dialect import lock_rows
from herald.store.tables import deliveries, delivery_attempts, targets


@dataclass(frozen=True)
class AttemptRecord:
    delivery_id: str
    claim_token: str | None
    kind: str
    attempt: int
    trigger: str
    outcome: str  # delivered | partial | retryable | permanent | rate_limited | blocked | expired
    status: str  # the delivery's status after this attempt: pending | success | failed
    next_attempt_at: dt.datetime | None
    request: dict[str, Any]
    response_status: int | None
    response_body: str | None
    platform_code: str | None
    error: str | None
    latency_ms: float
    started_at: dt.datetime
    project_id: str
    task_id: str | None
    config_id: str
    channel_id: str
    event_type: str
    channel_type: str
    target_key: str
    circuit_signal: str | None = None  # success | transient
    penalty_until: float | None = None
    note: str | None = None


def record(conn: Connection, records: Sequence[AttemptRecord], now: dt.datetime) -> None:
    """Store `records` and move their deliveries on (where this worker still owns them)."""
    if not records:
        return
    conn.execute(delivery_attempts.insert(), [_attempt_row(r) for r in records])
    conn.execute(_UPDATE, [_update_params(r, now) for r in records])
    for r in records:
        if r.kind == "digest" and r.status != "pending":
            _finish_members(conn, r, now)
    _update_targets(conn, records, now)


_d = deliveries.c
_UPDATE = (
    deliveries.update()
    .where(_d.id == sa.bindparam("did"), _d.claim_token == sa.bindparam("token"))
    .values(
        status=sa.bindparam("status"),
        attempts=sa.bindparam("attempt"),
        lease_owner=None,
        lease_until=None,
        claim_token=None,
        trigger="scheduled",
        last_outcome=sa.bindparam("outcome"),
        last_code=sa.bindparam("code"),
        last_error=sa.bindparam("error"),
        next_attempt_at=sa.func.coalesce(
            sa.bindparam("next_at", type_=_d.next_attempt_at.type), _d.next_attempt_at
        ),
        finished_at=sa.bindparam("finished_at", type_=_d.finished_at.type),
        updated_at=sa.bindparam("now", type_=_d.updated_at.type),
    )
)


def _update_params(r: AttemptRecord, now: dt.datetime) -> dict[str, Any]:
    return {
        "did": r.delivery_id,
        "token": r.claim_token,
        "status": r.status,
        "attempt": r.attempt,
        "outcome": r.outcome,
        "code": r.platform_code,
        "error": r.error,
        "next_at": r.next_attempt_at,
        "finished_at": now if r.status != "pending" else None,
        "now": now,
    }


def _finish_members(conn: Connection, r: AttemptRecord, now: dt.datetime) -> None:
    owner = conn.execute(
        sa.select(_d.id).where(
            _d.id == r.delivery_id, _d.status == r.status, _d.attempts == r.attempt
        )
    ).first()
    if owner is None:
        return  # the result did not apply (lease lost); the digest's new owner finishes it
    conn.execute(
        deliveries.update()
        .where(_d.digest_id == r.delivery_id)
        .values(
            status=r.status,
            last_outcome=r.outcome,
            last_code=r.platform_code,
            last_error=r.error,
            finished_at=now,
            updated_at=now,
        )
    )


def _attempt_row(r: AttemptRecord) -> dict[str, Any]:
    return {
        "id": new_id(),
        "delivery_id": r.delivery_id,
        "attempt": r.attempt,
        "trigger": r.trigger,
        "project_id": r.project_id,
        "task_id": r.task_id,
        "config_id": r.config_id,
        "channel_id": r.channel_id,
        "event_type": r.event_type,
        "channel_type": r.channel_type,
        "outcome": r.outcome,
        "request": r.request,
        "response_status": r.response_status,
        "response_body": r.response_body,
        "platform_code": r.platform_code,
        "error": r.error,
        "latency_ms": round(r.latency_ms, 3),
        "note": r.note,
        "created_at": r.started_at,
    }


def _update_targets(conn: Connection, records: Sequence[AttemptRecord], now: dt.datetime) -> None:
    """Apply circuit signals and penalties. Targets that only saw successes are reset in one
    statement that matches nothing in the usual case (closed, no failures): healthy traffic
    costs no row lock and no write."""
    eventful = {r.target_key for r in records if r.circuit_signal == "transient" or r.penalty_until}
    healthy = sorted({r.target_key for r in records if r.circuit_signal == "success"} - eventful)
    if healthy:
        t = targets.c
        conn.execute(
            targets.update()
            .where(t.key.in_(healthy), sa.or_(t.failures > 0, t.circuit != "closed"))
            .values(circuit="closed", failures=0, cooldown=0.0, probe_at=None, updated_at=now)
        )
    relevant = [r for r in records if r.target_key in eventful]
    if not relevant:
        return
    keys = sorted(eventful)
    query = lock_rows(
        sa.select(targets).where(targets.c.key.in_(keys)).order_by(targets.c.key),
        conn,
        skip_locked=False,
    )
    for row in conn.execute(query).all():
        mine = [r for r in relevant if r.target_key == row.key]
        circuit = Circuit(row.circuit, row.failures, row.cooldown, row.probe_at)
        penalty = row.penalty_until
        last_error = row.last_error
        for r in mine:
            if r.circuit_signal == "success":
                circuit = circuit.on_success()
            elif r.circuit_signal == "transient":
                circuit = circuit.on_transient_failure(now.timestamp())
                last_error = r.error
            if r.penalty_until:
                penalty = max(penalty or 0.0, r.penalty_until)
        conn.execute(
            targets.update()
            .where(targets.c.key == row.key)
            .values(
                circuit=circuit.state,
                failures=circuit.failures,
                cooldown=circuit.cooldown,
                probe_at=circuit.probe_at,
                penalty_until=penalty,
                last_error=last_error,
                updated_at=now,
            )
        )

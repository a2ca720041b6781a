"""Writing attempt results back: history rows, delivery state, target circuit state, in batches.

A result applies to its delivery only while the claim token still matches (fencing); the attempt
itself is always recorded, because it happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.breaker import Circuit
from herald.domain.delivery import CircuitSignal
from herald.domain.ids import new_id
from herald.store import delivery_state
from herald.store.attempt_record import AttemptRecord
from herald.store.dialect import BatchInsert, lock_rows
from herald.store.tables import delivery_attempts, targets

__all__ = ["AttemptRecord", "record"]

_ATTEMPT_COLUMNS = (
    "id",
    "delivery_id",
    "attempt",
    "trigger",
    "project_id",
    "task_id",
    "config_id",
    "channel_id",
    "event_type",
    "channel_type",
    "outcome",
    "request",
    "response_status",
    "response_body",
    "platform_code",
    "error",
    "latency_ms",
    "note",
    "created_at",
)
_INSERT_ATTEMPTS = BatchInsert(delivery_attempts, _ATTEMPT_COLUMNS)


def record(conn: Connection, records: Sequence[AttemptRecord], now: dt.datetime) -> None:
    """Store `records` and move their deliveries on (where this worker still owns them)."""
    if not records:
        return
    _INSERT_ATTEMPTS.execute(conn, [_attempt_row(r) for r in records])
    delivery_state.apply_results(conn, records, now)
    _update_targets(conn, records, now)


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
    eventful = {
        r.target_key
        for r in records
        if r.circuit_signal == CircuitSignal.TRANSIENT or r.penalty_until
    }
    healthy = sorted(
        {r.target_key for r in records if r.circuit_signal == CircuitSignal.SUCCESS} - eventful
    )
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
            if r.circuit_signal == CircuitSignal.SUCCESS:
                circuit = circuit.on_success()
            elif r.circuit_signal == CircuitSignal.TRANSIENT:
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

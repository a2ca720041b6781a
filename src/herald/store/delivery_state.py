"""The delivery state machine's writes: every UPDATE that moves a delivery from one state to
another, each a named transition. What the next state is, `herald.domain.delivery` decides;
this module only stores it.

    pending ──lease──▶ pending (leased) ──results──▶ success | failed | pending (retry)
    pending ──postpone──▶ pending (later)     pending ──cancel / hold_back_tests──▶ failed
    success | failed ──resend──▶ pending (manual)
    pending ──mute──▶ muted ──release──▶ pending (due now, order kept)
                            ──drop──▶ dropped
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import AttemptOutcome, DeliveryKind, DeliveryStatus, Trigger
from herald.domain.ids import new_id
from herald.store.attempt_record import AttemptRecord
from herald.store.dialect import lock_rows
from herald.store.tables import deliveries

_d = deliveries.c

# Literals, not bound parameters: only then may SQLite use the partial indexes on them.
PENDING: sa.ColumnClause[str] = sa.literal_column(f"'{DeliveryStatus.PENDING}'")
FAILED: sa.ColumnClause[str] = sa.literal_column(f"'{DeliveryStatus.FAILED}'")


def not_leased(now: dt.datetime) -> sa.ColumnElement[bool]:
    """No worker holds the delivery (never leased, or its lease ran out)."""
    return sa.or_(_d.lease_until.is_(None), _d.lease_until < now)


# --- pending → failed, never sent ------------------------------------------------------------


def _cancel(conn: Connection, where: sa.ColumnElement[bool], reason: str, now: dt.datetime) -> None:
    conn.execute(
        deliveries.update()
        .where(where)
        .values(
            status=DeliveryStatus.FAILED,
            last_outcome=AttemptOutcome.CANCELLED,
            last_error=reason,
            finished_at=now,
            updated_at=now,
        )
    )


def cancel(conn: Connection, delivery_ids: Sequence[str], reason: str, now: dt.datetime) -> None:
    """Claimed deliveries whose channel was deleted meanwhile end failed instead of being sent."""
    if delivery_ids:
        _cancel(conn, _d.id.in_(list(delivery_ids)), reason, now)


def cancel_pending_for_channels(
    conn: Connection,
    config_id: str,
    channel_ids: Iterable[str],
    reason: str,
    now: dt.datetime,
) -> None:
    """Fail the not-yet-sent deliveries of channels that no longer exist (one in flight
    finishes: its worker records what happened)."""
    ids = sorted(channel_ids)
    if not ids:
        return
    where = sa.and_(
        _d.config_id == config_id,
        _d.channel_id.in_(ids),
        _d.status == DeliveryStatus.PENDING,
        not_leased(now),
    )
    _cancel(conn, where, reason, now)


def hold_back_tests(
    conn: Connection, delivery_ids: Sequence[str], message: str, now: dt.datetime
) -> None:
    """Test sends the target's rate limit, penalty or open circuit holds back: not sent, failed
    (a person waits for the answer, so they are not kept for later)."""
    if not delivery_ids:
        return
    conn.execute(
        deliveries.update()
        .where(_d.id.in_(list(delivery_ids)))
        .values(
            status=DeliveryStatus.FAILED,
            last_outcome=AttemptOutcome.RATE_LIMITED,
            last_error=message,
            finished_at=now,
            updated_at=now,
        )
    )


# --- leases and due times --------------------------------------------------------------------


def lease(
    conn: Connection, until: Mapping[dt.datetime, Sequence[str]], owner: str, token: str
) -> None:
    """Lease the deliveries, grouped by lease end: one UPDATE per lease length; the batch
    shares its claim token (the fencing unit)."""
    for ends, ids in until.items():
        conn.execute(
            deliveries.update()
            .where(_d.id.in_(list(ids)))
            .values(lease_owner=owner, lease_until=ends, claim_token=token)
        )


def postpone(conn: Connection, until: Mapping[str, float], now: dt.datetime) -> None:
    """Move pending deliveries' due times (Unix seconds) later: held by a limit or a circuit."""
    if not until:
        return
    conn.execute(
        deliveries.update()
        .where(_d.id == sa.bindparam("did"))
        .values(next_attempt_at=sa.bindparam("at"), updated_at=now),
        [{"did": k, "at": dt.datetime.fromtimestamp(v, dt.UTC)} for k, v in until.items()],
    )


# --- attempts' results -----------------------------------------------------------------------

_APPLY_RESULT = (
    deliveries.update()
    .where(_d.id == sa.bindparam("did"), _d.claim_token == sa.bindparam("token"))
    .values(
        status=sa.bindparam("status"),
        attempts=sa.bindparam("attempt"),
        lease_owner=None,
        lease_until=None,
        claim_token=None,
        trigger=Trigger.SCHEDULED,
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


def apply_results(conn: Connection, records: Sequence[AttemptRecord], now: dt.datetime) -> None:
    """Move each delivery to the state its attempt decided, releasing its lease — only while
    the claim token still matches (a worker whose lease was taken over changes nothing) —
    and a finished digest's members with it."""
    conn.execute(_APPLY_RESULT, [_result_params(r, now) for r in records])
    for r in records:
        if r.kind == DeliveryKind.DIGEST and r.status != DeliveryStatus.PENDING:
            _finish_members(conn, r, now)


def _result_params(r: AttemptRecord, now: dt.datetime) -> dict[str, Any]:
    return {
        "did": r.delivery_id,
        "token": r.claim_token,
        "status": r.status,
        "attempt": r.attempt,
        "outcome": r.outcome,
        "code": r.platform_code,
        "error": r.error,
        "next_at": r.next_attempt_at,
        "finished_at": now if r.status != DeliveryStatus.PENDING else None,
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


# --- mute windows: pending → muted → pending | dropped ------------------------------------------


def mute(conn: Connection, where: sa.ColumnElement[bool], mute_id: str, now: dt.datetime) -> int:
    """Hold the pending deliveries `where` selects (not leased, event deliveries not merged
    into a digest, never held before, not a person's resend) for the window `mute_id`;
    return how many. Rows another worker's claim has locked are skipped, never waited for
    (that claim leases them or leaves them for the next claim to hold)."""
    held = sa.select(_d.id).where(
        where,
        _d.status == PENDING,
        _d.kind == DeliveryKind.EVENT,
        _d.mute_id.is_(None),
        _d.digest_id.is_(None),
        _d.trigger != Trigger.MANUAL,
        not_leased(now),
    )
    ids = list(conn.execute(lock_rows(held, conn, skip_locked=True)).scalars())
    if not ids:
        return 0
    conn.execute(
        deliveries.update()
        .where(_d.id.in_(ids))
        .values(status=DeliveryStatus.MUTED, mute_id=mute_id, updated_at=now)
    )
    return len(ids)


def decide_held(
    conn: Connection,
    where: sa.ColumnElement[bool],
    status: DeliveryStatus,
    note: str | None,
    now: dt.datetime,
) -> list[str]:
    """Move the muted deliveries `where` selects to `status` (`domain.delivery.decide_held`):
    pending and due now (they keep their `seq`, so one task's released deliveries still go out
    in event order), or dropped with `note` as the last error. Returns the ids moved."""
    held = sa.and_(where, _d.status == DeliveryStatus.MUTED)
    ids = list(conn.execute(sa.select(_d.id).where(held).order_by(_d.id)).scalars())
    if not ids:
        return []
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == DeliveryStatus.PENDING:
        values["next_attempt_at"] = now
    else:
        values.update(finished_at=now, last_error=note)
    conn.execute(deliveries.update().where(held).values(**values))
    return ids


# --- a person's resend -----------------------------------------------------------------------


def resend(conn: Connection, delivery_id: str, attempts: int, now: dt.datetime) -> None:
    """Queue one more attempt now, outside the automatic schedule (a failed resend stays
    failed: it may make exactly one more attempt)."""
    conn.execute(
        deliveries.update()
        .where(_d.id == delivery_id)
        .values(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            max_attempts=attempts + 1,
            trigger=Trigger.MANUAL,
            digest_id=None,
            # A resend is out of order by nature (later events were sent meanwhile): it neither
            # waits for the task's other deliveries nor holds them back.
            seq=None,
            lease_owner=None,
            lease_until=None,
            claim_token=None,
            finished_at=None,
            updated_at=now,
        )
    )


# --- new test deliveries ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewTest:
    """A test send to one channel: `event` is the sample ({"payload": …, "context": …})."""

    config_id: str
    channel_id: str
    project_id: str
    event_type: str
    channel_type: str
    target_key: str
    event: dict[str, Any]


def create_tests(conn: Connection, tests: Sequence[NewTest], now: dt.datetime) -> list[str]:
    """Insert pending test deliveries, due now and tried once; return their ids in order."""
    ids = [new_id() for _ in tests]
    rows = [
        {
            "id": did,
            "kind": DeliveryKind.TEST,
            "event_id": None,
            "config_id": t.config_id,
            "channel_id": t.channel_id,
            "project_id": t.project_id,
            "task_id": None,
            "event_type": t.event_type,
            "channel_type": t.channel_type,
            "target_key": t.target_key,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "max_attempts": 1,
            "trigger": Trigger.TEST,
            "next_attempt_at": now,
            "payload": t.event,
            "created_at": now,
            "updated_at": now,
        }
        for did, t in zip(ids, tests, strict=True)
    ]
    if rows:
        conn.execute(deliveries.insert(), rows)
    return ids

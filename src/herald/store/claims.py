"""Claiming due deliveries: one transaction leases a batch and applies per-target planning.

On PostgreSQL candidates are locked with SKIP LOCKED, so workers claim disjoint batches, and a
target's shared row is locked while its slots are handed out, so the rate limit holds across
workers. A lease carries a fresh claim token (fencing): a worker whose lease expired and was
taken over cannot write its late result over the new owner's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.breaker import Circuit
from herald.domain.dispatch import MAX_DIGEST, Candidate, TargetPlan, TargetState, plan_target
from herald.domain.ids import new_id
from herald.domain.ratelimit import Limit
from herald.store.delivery import ensure_targets
from herald.store.sql import lock_rows
from herald.store.tables import callback_channels, deliveries, events, targets


@dataclass(frozen=True)
class ChannelInfo:
    type: str
    rate_limit: dict[str, Any] | None
    policy: dict[str, Any] | None


@dataclass
class Claimed:
    id: str
    kind: str
    event_id: str | None
    config_id: str
    channel_id: str
    project_id: str
    task_id: str | None
    event_type: str
    channel_type: str
    target_key: str
    attempts: int
    max_attempts: int
    trigger: str
    claim_token: str
    lease_until: dt.datetime
    payload: dict[str, Any] | None = None  # {"payload": …, "context": …} of the event
    event_at: dt.datetime | None = None  # when the event was committed
    members: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # digests


@dataclass
class ClaimPolicy:
    """What the store needs from the delivery layer to plan claims."""

    limits: Callable[[str, dict[str, Any] | None], list[Limit]]
    digest_types: frozenset[str]
    lease_seconds: Callable[[str, dict[str, Any] | None], float]
    probe_deadline: float = 120.0
    default_attempts: int = 9


@dataclass
class ClaimResult:
    claimed: list[Claimed]
    postponed: int = 0
    merged: int = 0
    rate_limited: int = 0


def claim(
    conn: Connection,
    *,
    owner: str,
    now: dt.datetime,
    limit: int,
    exclude_targets: Sequence[str],
    policy: ClaimPolicy,
    only: Sequence[str] | None = None,
) -> ClaimResult:
    """Lease up to `limit` due deliveries (or just those in `only`) as planned per target."""
    rows = _candidates(conn, now, limit, exclude_targets, only)
    if not rows:
        return ClaimResult([])
    channels, target_limits = _channels(
        conn, {r.channel_id for r in rows}, {r.target_key for r in rows}, policy
    )
    rows = _drop_orphans(conn, rows, channels, now)
    states = _target_states(conn, rows, now)
    result = ClaimResult([])
    leases: list[tuple[Any, dt.datetime]] = []
    epoch = now.timestamp()
    grouped = _by_target(rows)
    for key, due in grouped.items():
        info = channels[due[0].channel_id]
        limits = target_limits.get(key, [])
        digest_ok = info.type in policy.digest_types and bool(limits)
        backlog = _backlog(conn, key, now) if digest_ok else [Candidate(r.id, r.kind) for r in due]
        plan = plan_target(
            states[key],
            limits,
            [Candidate(r.id, r.kind) for r in due],
            backlog,
            epoch,
            digest_ok=digest_ok,
            probe_deadline=policy.probe_deadline,
        )
        chosen = [r for r in due if r.id in set(plan.send)]
        if plan.merge:
            digest = _merge(conn, key, plan, due[0], now, policy.default_attempts)
            if digest is not None:
                chosen.append(digest)
            result.merged += len(plan.merge)
        for row in chosen:
            leases.append(_lease(row, owner, now, policy, channels))
        _postpone(conn, plan.postpone, now)
        _save_state(conn, key, states[key], plan.state, now)
        result.postponed += len(plan.postpone)
        result.rate_limited += plan.rate_limited
    token = str(uuid.uuid4())
    _write_leases(conn, leases, owner, token)
    result.claimed = _load(conn, leases, token)
    return result


_d = deliveries.c
CLAIM_COLUMNS = (
    _d.id,
    _d.kind,
    _d.event_id,
    _d.config_id,
    _d.channel_id,
    _d.project_id,
    _d.task_id,
    _d.event_type,
    _d.channel_type,
    _d.target_key,
    _d.attempts,
    _d.max_attempts,
    _d.trigger,
    _d.payload,
)


def _candidates(
    conn: Connection,
    now: dt.datetime,
    limit: int,
    exclude: Sequence[str],
    only: Sequence[str] | None,
) -> list[Any]:
    d = deliveries.c
    query = (
        sa.select(*CLAIM_COLUMNS)
        .where(
            d.status == "pending",
            d.next_attempt_at <= now,
            sa.or_(d.lease_until.is_(None), d.lease_until < now),
            d.digest_id.is_(None),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(limit)
    )
    if exclude:
        query = query.where(d.target_key.not_in(list(exclude)))
    if only is not None:
        query = query.where(d.id.in_(list(only)))
    return list(conn.execute(lock_rows(query, conn, skip_locked=True)))


def _channels(
    conn: Connection, ids: set[str], keys: set[str], policy: ClaimPolicy
) -> tuple[dict[str, ChannelInfo], dict[str, list[Limit]]]:
    """The claimed deliveries' channels, and per target every limit any channel pointing at it
    asks for: all apply, so the strictest wins whichever channel's delivery comes first."""
    c = callback_channels.c
    query = sa.select(c.id, c.type, c.rate_limit, c.policy, c.target_key).where(
        sa.or_(c.id.in_(sorted(ids)), c.target_key.in_(sorted(keys)))
    )
    infos: dict[str, ChannelInfo] = {}
    limits: dict[str, set[Limit]] = {}
    for row in conn.execute(query):
        infos[row.id] = ChannelInfo(row.type, row.rate_limit, row.policy)
        if row.target_key in keys:
            limits.setdefault(row.target_key, set()).update(policy.limits(row.type, row.rate_limit))
    ordered = {
        k: sorted(v, key=lambda lim: (lim.per_seconds, lim.count)) for k, v in limits.items()
    }
    return infos, ordered


def _drop_orphans(
    conn: Connection, rows: list[Any], channels: dict[str, ChannelInfo], now: dt.datetime
) -> list[Any]:
    """Deliveries whose channel was deleted meanwhile end failed instead of being sent."""
    orphans = [r.id for r in rows if r.channel_id not in channels]
    if orphans:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(orphans))
            .values(
                status="failed",
                last_outcome="cancelled",
                last_error="the channel no longer exists",
                finished_at=now,
                updated_at=now,
            )
        )
    return [r for r in rows if r.channel_id in channels]


def _by_target(rows: Sequence[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.target_key, []).append(row)
    return grouped


def _target_states(
    conn: Connection, rows: Sequence[Any], now: dt.datetime
) -> dict[str, TargetState]:
    """Lock and read each target's shared state; rows are made on config save, so creating
    them here is only for stragglers."""
    keys = sorted({r.target_key for r in rows})
    states = _read_states(conn, keys)
    missing = [r for r in rows if r.target_key not in states]
    if missing:
        ensure_targets(conn, [(r.target_key, r.channel_type, r.channel_type) for r in missing], now)
        states.update(_read_states(conn, sorted({r.target_key for r in missing})))
    return states


def _read_states(conn: Connection, keys: list[str]) -> dict[str, TargetState]:
    query = lock_rows(
        sa.select(targets).where(targets.c.key.in_(keys)).order_by(targets.c.key),
        conn,
        skip_locked=False,
    )
    return {row.key: _state(row) for row in conn.execute(query)}


def _state(row: Any) -> TargetState:
    circuit = Circuit(row.circuit, row.failures, row.cooldown, row.probe_at)
    return TargetState(tuple(row.sends), row.penalty_until, circuit)


def _save_state(
    conn: Connection, key: str, before: TargetState, after: TargetState, now: dt.datetime
) -> None:
    if after == before:
        return
    conn.execute(
        targets.update()
        .where(targets.c.key == key)
        .values(
            sends=list(after.sends),
            penalty_until=after.penalty_until,
            circuit=after.circuit.state,
            failures=after.circuit.failures,
            cooldown=after.circuit.cooldown,
            probe_at=after.circuit.probe_at,
            updated_at=now,
        )
    )


def _backlog(conn: Connection, key: str, now: dt.datetime) -> list[Candidate]:
    d = deliveries.c
    query = (
        sa.select(d.id, d.kind)
        .where(
            d.target_key == key,
            d.status == "pending",
            d.digest_id.is_(None),
            sa.or_(d.lease_until.is_(None), d.lease_until < now),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(MAX_DIGEST * 2)
    )
    return [Candidate(r.id, r.kind) for r in conn.execute(query)]


def _merge(
    conn: Connection, key: str, plan: TargetPlan, sample: Any, now: dt.datetime, attempts: int
) -> Any | None:
    """Point the merged deliveries at a pending digest (reusing one not yet tried).

    Returns the digest row when it is due now, so the caller leases it with this batch.
    """
    d = deliveries.c
    existing = conn.execute(
        sa.select(deliveries).where(
            d.target_key == key,
            d.kind == "digest",
            d.status == "pending",
            d.attempts == 0,
            sa.or_(d.lease_until.is_(None), d.lease_until < now),
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
    if not plan.digest_now:
        return None
    return conn.execute(sa.select(*CLAIM_COLUMNS).where(d.id == digest_id)).first()


def _digest_row(
    digest_id: str, sample: Any, due_at: dt.datetime, now: dt.datetime, attempts: int
) -> dict[str, Any]:
    return {
        "id": digest_id,
        "kind": "digest",
        "event_id": None,
        "config_id": sample.config_id,
        "channel_id": sample.channel_id,
        "project_id": sample.project_id,
        "task_id": None,
        "event_type": "digest",
        "channel_type": sample.channel_type,
        "target_key": sample.target_key,
        "status": "pending",
        "attempts": 0,
        "max_attempts": attempts,
        "trigger": "scheduled",
        "next_attempt_at": due_at,
        "created_at": now,
        "updated_at": now,
    }


def _postpone(conn: Connection, until: dict[str, float], now: dt.datetime) -> None:
    if not until:
        return
    conn.execute(
        deliveries.update()
        .where(deliveries.c.id == sa.bindparam("did"))
        .values(next_attempt_at=sa.bindparam("at"), updated_at=now),
        [{"did": k, "at": dt.datetime.fromtimestamp(v, dt.UTC)} for k, v in until.items()],
    )


def _lease(
    row: Any, owner: str, now: dt.datetime, policy: ClaimPolicy, channels: dict[str, ChannelInfo]
) -> tuple[Any, dt.datetime]:
    info = channels.get(row.channel_id) or ChannelInfo(row.channel_type, None, None)
    return row, now + dt.timedelta(seconds=policy.lease_seconds(info.type, info.policy))


def _write_leases(
    conn: Connection, leases: list[tuple[Any, dt.datetime]], owner: str, token: str
) -> None:
    """One UPDATE per lease length: the batch shares its claim token (the fencing unit)."""
    by_until: dict[dt.datetime, list[str]] = {}
    for row, until in leases:
        by_until.setdefault(until, []).append(row.id)
    for until, ids in by_until.items():
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(ids))
            .values(lease_owner=owner, lease_until=until, claim_token=token)
        )


def _load(conn: Connection, leases: list[tuple[Any, dt.datetime]], token: str) -> list[Claimed]:
    claimed = [_claimed(row, token, until) for row, until in leases]
    event_ids = [c.event_id for c in claimed if c.event_id]
    if event_ids:
        query = sa.select(
            events.c.id, events.c.payload, events.c.context, events.c.created_at
        ).where(events.c.id.in_(event_ids))
        found = {r.id: r for r in conn.execute(query)}
        for c in claimed:
            row = found.get(c.event_id) if c.event_id else None
            if row is not None:
                c.payload = {"payload": row.payload, "context": row.context}
                c.event_at = row.created_at
    digests = {c.id: c for c in claimed if c.kind == "digest"}
    if digests:
        query = (
            sa.select(deliveries.c.id, deliveries.c.digest_id, events.c.payload, events.c.context)
            .join(events, deliveries.c.event_id == events.c.id)
            .where(deliveries.c.digest_id.in_(list(digests)))
            .order_by(events.c.created_at, events.c.id)
        )
        for r in conn.execute(query):
            digests[r.digest_id].members.append(
                (r.id, {"payload": r.payload, "context": r.context})
            )
    return claimed


def _claimed(row: Any, token: str, until: dt.datetime) -> Claimed:
    return Claimed(
        id=row.id,
        kind=row.kind,
        event_id=row.event_id,
        config_id=row.config_id,
        channel_id=row.channel_id,
        project_id=row.project_id,
        task_id=row.task_id,
        event_type=row.event_type,
        channel_type=row.channel_type,
        target_key=row.target_key,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        trigger=row.trigger,
        claim_token=token,
        lease_until=until,
        payload=row.payload if row.kind == "test" else None,
    )


def next_due(conn: Connection, now: dt.datetime) -> dt.datetime | None:
    """When a pending delivery next becomes claimable: due, or its expired lease falls back."""
    d = deliveries.c
    waiting = sa.select(sa.func.min(d.next_attempt_at)).where(
        d.status == "pending",
        d.digest_id.is_(None),
        sa.or_(d.lease_until.is_(None), d.lease_until < now),
    )
    leased = sa.select(sa.func.min(d.lease_until)).where(
        d.status == "pending", d.lease_until >= now
    )
    found = [conn.execute(q).scalar() for q in (waiting, leased)]
    moments = [m for m in found if isinstance(m, dt.datetime)]
    return min(moments) if moments else None

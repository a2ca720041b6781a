"""Claiming due deliveries: one transaction leases a batch and applies per-target planning.

On PostgreSQL candidates are locked with SKIP LOCKED, so workers claim disjoint batches, and a
target's shared row is locked while its slots are handed out, so the rate limit and the
target's concurrency limit hold across workers. A lease carries a fresh claim token (fencing):
a worker whose lease expired and was taken over cannot write its late result over the new
owner's.

Order: a delivery is not a candidate while an earlier event of its task (lower `seq`) to the
same target is still pending, whether in flight, waiting for a retry, held by a limit, a
penalty or an open circuit, or merged into a digest not yet sent; a digest is not a candidate
while one of its members has such an earlier delivery outside the digest. A delivery that
fails for good stops holding the later ones back, and they say so (`missed_before`). A muted
delivery (held by a mute window) is not pending, so it holds nothing back: later events of its
task to the target go out while it waits; released, it keeps its `seq` and is ordered again
among the task's pending deliveries.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryKind, Trigger
from herald.domain.dispatch import Candidate, plan_target
from herald.domain.ratelimit import Limit
from herald.store import delivery_state
from herald.store.claim_types import Claimed, ClaimPolicy, ClaimResult
from herald.store.delivery_order import earlier_pending, in_flight, in_flight_count, note_missed
from herald.store.delivery_state import PENDING
from herald.store.dialect import lock_rows
from herald.store.digests import backlog_of, merge_into_digest
from herald.store.mute_repo import hold_muted
from herald.store.tables import callback_channels, callback_configs, deliveries, events
from herald.store.target_state import load_target_states, save_target_state

__all__ = ["ClaimPolicy", "ClaimResult", "Claimed", "claim"]


@dataclass(frozen=True)
class ChannelInfo:
    type: str
    rate_limit: dict[str, Any] | None
    policy: dict[str, Any] | None
    config_updated_at: dt.datetime | None = None


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
    """Lease up to `limit` due deliveries (or just those in `only`) as planned per target.
    Deliveries an active mute window covers are held first (`mute_repo.hold_muted`)."""
    if only is None:
        hold_muted(conn, now)
    rows = _candidates(conn, now, limit, exclude_targets, only, policy)
    if not rows:
        return ClaimResult([])
    channels, target_limits = _channels(
        conn, {r.channel_id for r in rows}, {r.target_key for r in rows}, policy
    )
    rows = _drop_orphans(conn, rows, channels, now)
    states = load_target_states(conn, rows, now)
    busy = Counter[str]() if only is not None else in_flight(conn, rows, now)
    result = ClaimResult([])
    leases: list[tuple[Any, dt.datetime]] = []
    epoch = now.timestamp()
    grouped = _by_target(rows)
    for key, due in grouped.items():
        info = channels[due[0].channel_id]
        limits = target_limits.get(key, [])
        digest_ok = info.type in policy.digest_types and bool(limits)
        backlog = (
            backlog_of(conn, key, now)
            if digest_ok
            else [Candidate(r.id, r.kind, r.task_id, r.seq) for r in due]
        )
        plan = plan_target(
            states[key],
            limits,
            [Candidate(r.id, r.kind, r.task_id, r.seq) for r in due],
            backlog,
            epoch,
            digest_ok=digest_ok,
            probe_deadline=policy.probe_deadline,
            # Test sends (`only`) are one-off requests a person waits for: no concurrency cap.
            room=None if only is not None else policy.in_flight_cap(info.type) - busy[key],
        )
        chosen = [r for r in due if r.id in set(plan.send)]
        if plan.merge:
            digest_id = merge_into_digest(conn, key, plan, due[0], now, policy.default_attempts)
            if digest_id is not None:
                query = _claim_select().where(deliveries.c.id == digest_id)
                chosen.append(conn.execute(query).one())
            result.merged += len(plan.merge)
        for row in chosen:
            leases.append(_lease(row, owner, now, policy, channels))
        delivery_state.postpone(conn, plan.postpone, now)
        later = [
            *plan.postpone.values(),
            *([plan.digest_at] if plan.digest_at and not plan.digest_now else []),
        ]
        if later:
            soonest = min(later)
            result.next_due = soonest if result.next_due is None else min(result.next_due, soonest)
        save_target_state(conn, key, states[key], plan.state, now)
        result.postponed += len(plan.postpone)
        result.rate_limited += plan.rate_limited
    token = str(uuid.uuid4())
    _write_leases(conn, leases, owner, token)
    result.claimed = _load(conn, leases, token)
    note_missed(conn, result.claimed)
    for item in result.claimed:
        circuit = states[item.target_key].circuit
        item.target_healthy = circuit.state == "closed" and circuit.failures == 0
    result.config_stamps = _config_stamps(result.claimed, channels)
    return result


def _config_stamps(
    claimed: Sequence[Claimed], channels: dict[str, ChannelInfo]
) -> dict[str, dt.datetime]:
    """When each claimed delivery's config last changed (the worker reloads changed ones)."""
    stamps: dict[str, dt.datetime] = {}
    for item in claimed:
        known = channels.get(item.channel_id)
        if known is not None and known.config_updated_at is not None:
            stamps[item.config_id] = known.config_updated_at
    return stamps


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
    _d.seq,
)


def _candidates(
    conn: Connection,
    now: dt.datetime,
    limit: int,
    exclude: Sequence[str],
    only: Sequence[str] | None,
    policy: ClaimPolicy,
) -> list[Any]:
    d = deliveries.c
    cap: Any = sa.literal(policy.default_in_flight)
    if policy.max_in_flight:
        cap = sa.case(
            dict(policy.max_in_flight), value=d.channel_type, else_=policy.default_in_flight
        )
    query = (
        _claim_select()
        .where(
            d.status == PENDING,
            d.next_attempt_at <= now,
            sa.or_(d.lease_until.is_(None), d.lease_until < now),
            d.digest_id.is_(None),
            ~earlier_pending(d),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(limit)
    )
    if only is None:
        # Targets already at their limit are skipped here, so they cannot crowd others out
        # of the batch; the count is taken again under the target's lock (`_in_flight`).
        query = query.where(in_flight_count(d.target_key, now) < cap)
    if exclude:
        query = query.where(d.target_key.not_in(list(exclude)))
    if only is not None:
        query = query.where(d.id.in_(list(only)))
    return list(conn.execute(lock_rows(query, conn, skip_locked=True, of=deliveries)))


def _claim_select() -> sa.Select[Any]:
    """A delivery's claim columns with its event's message, fetched in the same round trip."""
    return sa.select(
        *CLAIM_COLUMNS,
        events.c.payload.label("event_payload"),
        events.c.context.label("event_context"),
        events.c.created_at.label("event_at"),
    ).outerjoin(events, events.c.id == deliveries.c.event_id)


def _channels(
    conn: Connection, ids: set[str], keys: set[str], policy: ClaimPolicy
) -> tuple[dict[str, ChannelInfo], dict[str, list[Limit]]]:
    """The claimed deliveries' channels, and per target every limit any channel pointing at it
    asks for: all apply, so the strictest wins whichever channel's delivery comes first."""
    c = callback_channels.c
    query = (
        sa.select(c.id, c.type, c.rate_limit, c.policy, c.target_key, callback_configs.c.updated_at)
        .join(callback_configs, callback_configs.c.id == c.config_id)
        .where(sa.or_(c.id.in_(sorted(ids)), c.target_key.in_(sorted(keys))))
    )
    infos: dict[str, ChannelInfo] = {}
    limits: dict[str, set[Limit]] = {}
    for row in conn.execute(query):
        infos[row.id] = ChannelInfo(row.type, row.rate_limit, row.policy, row.updated_at)
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
    delivery_state.cancel(conn, orphans, "the channel no longer exists", now)
    return [r for r in rows if r.channel_id in channels]


def _by_target(rows: Sequence[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.target_key, []).append(row)
    return grouped


def _lease(
    row: Any, owner: str, now: dt.datetime, policy: ClaimPolicy, channels: dict[str, ChannelInfo]
) -> tuple[Any, dt.datetime]:
    info = channels.get(row.channel_id) or ChannelInfo(row.channel_type, None, None)
    return row, now + dt.timedelta(seconds=policy.lease_seconds(info.type, info.policy))


def _write_leases(
    conn: Connection, leases: list[tuple[Any, dt.datetime]], owner: str, token: str
) -> None:
    by_until: dict[dt.datetime, list[str]] = {}
    for row, until in leases:
        by_until.setdefault(until, []).append(row.id)
    delivery_state.lease(conn, by_until, owner, token)


def _load(conn: Connection, leases: list[tuple[Any, dt.datetime]], token: str) -> list[Claimed]:
    claimed = [_claimed(row, token, until) for row, until in leases]
    digests = {c.id: c for c in claimed if c.kind == DeliveryKind.DIGEST}
    if digests:
        query = (
            sa.select(deliveries.c.id, deliveries.c.digest_id, events.c.payload, events.c.context)
            .join(events, deliveries.c.event_id == events.c.id)
            .where(deliveries.c.digest_id.in_(list(digests)))
            .order_by(events.c.created_at, events.c.task_id, events.c.seq, events.c.id)
        )
        for r in conn.execute(query):
            digests[r.digest_id].members.append(
                (r.id, {"payload": r.payload, "context": r.context})
            )
    return claimed


def _claimed(row: Any, token: str, until: dt.datetime) -> Claimed:
    return Claimed(
        id=row.id,
        kind=DeliveryKind(row.kind),
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
        trigger=Trigger(row.trigger),
        claim_token=token,
        lease_until=until,
        seq=row.seq,
        payload=(
            row.payload
            if row.kind == DeliveryKind.TEST
            else {"payload": row.event_payload, "context": row.event_context}
            if row.event_payload is not None
            else None
        ),
        event_at=row.event_at,
    )

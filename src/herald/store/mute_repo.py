"""Mute windows: stored, listed, ended early, and applied to pending deliveries by the claim.

`hold_muted` runs at the start of every claim: every window active at `now` moves the
pending deliveries of its scope that would be sent before it ends to `muted`. Expiry needs
nothing: a window that has ended holds nothing new, and what it held waits for a person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryStatus
from herald.domain.errors import missing
from herald.domain.mutes import MuteScope, MuteWindow
from herald.store import delivery_state
from herald.store.tables import deliveries, mutes

_m, _d = mutes.c, deliveries.c

# The delivery column each scope matches; a destination scope is one more line here.
SCOPE_COLUMNS: dict[MuteScope, sa.Column[Any]] = {
    MuteScope.PROJECT: _d.project_id,
    MuteScope.CONFIG: _d.config_id,
}


@dataclass(frozen=True)
class HeldCounts:
    muted: int  # still waiting for a decision
    released: int  # released, whatever became of them since
    dropped: int


def _window(row: Any) -> MuteWindow:
    return MuteWindow(
        id=row.id,
        scope=MuteScope(row.scope),
        scope_id=row.scope_id,
        project_id=row.project_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        ended_by=row.ended_by,
    )


def insert_mute(conn: Connection, window: MuteWindow) -> None:
    conn.execute(
        mutes.insert().values(
            id=window.id,
            scope=window.scope,
            scope_id=window.scope_id,
            project_id=window.project_id,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            reason=window.reason,
            created_by=window.created_by,
            ended_by=window.ended_by,
            created_at=window.created_at,
        )
    )


def get_mute(conn: Connection, mute_id: str) -> MuteWindow:
    row = conn.execute(sa.select(mutes).where(_m.id == mute_id)).first()
    if row is None:
        raise missing("mute window", "mute_id", mute_id)
    return _window(row)


def list_mutes(
    conn: Connection,
    *,
    visible: set[str] | None,
    active_at: dt.datetime | None,
    project_id: str | None,
    limit: int = 500,
) -> list[MuteWindow]:
    """Windows newest first; `active_at`: only those active then; `visible`: of these projects."""
    query = sa.select(mutes).order_by(_m.created_at.desc(), _m.id.desc()).limit(limit)
    if visible is not None:
        query = query.where(_m.project_id.in_(sorted(visible)))
    if project_id is not None:
        query = query.where(_m.project_id == project_id)
    if active_at is not None:
        query = query.where(_m.starts_at <= active_at, _m.ends_at > active_at)
    return [_window(r) for r in conn.execute(query)]


def end_mute(conn: Connection, mute_id: str, by: str, now: dt.datetime) -> None:
    """End a window now (one not yet started ends before it begins)."""
    conn.execute(
        mutes.update()
        .where(_m.id == mute_id, _m.ends_at > now)
        .values(ends_at=sa.case((_m.starts_at > now, _m.starts_at), else_=now), ended_by=by)
    )


def held_counts(conn: Connection, mute_ids: Sequence[str]) -> dict[str, HeldCounts]:
    """Per window: its deliveries still muted, released and dropped."""
    if not mute_ids:
        return {}
    query = (
        sa.select(_d.mute_id, _d.status, sa.func.count().label("n"))
        .where(_d.mute_id.in_(sorted(set(mute_ids))))
        .group_by(_d.mute_id, _d.status)
    )
    tally: dict[str, dict[str, int]] = {m: {} for m in mute_ids}
    for row in conn.execute(query):
        tally[row.mute_id][row.status] = row.n
    return {
        m: HeldCounts(
            muted=t.get(DeliveryStatus.MUTED, 0),
            released=sum(
                n for s, n in t.items() if s not in (DeliveryStatus.MUTED, DeliveryStatus.DROPPED)
            ),
            dropped=t.get(DeliveryStatus.DROPPED, 0),
        )
        for m, t in tally.items()
    }


def hold_muted(conn: Connection, now: dt.datetime) -> int:
    """Apply every window active at `now` (earliest first, so overlapping windows hold each
    delivery once) to the pending deliveries of its scope due before it ends; return how
    many were held."""
    active = conn.execute(
        sa.select(_m.id, _m.scope, _m.scope_id, _m.ends_at)
        .where(_m.starts_at <= now, _m.ends_at > now)
        .order_by(_m.starts_at, _m.id)
    ).all()
    held = 0
    for row in active:
        column = SCOPE_COLUMNS[MuteScope(row.scope)]
        where = sa.and_(column == row.scope_id, _d.next_attempt_at < row.ends_at)
        held += delivery_state.mute(conn, where, row.id, now)
    return held


def held_deliveries(mute_id: str) -> sa.ColumnElement[bool]:
    """The deliveries a window holds (for `delivery_state.decide_held`)."""
    return _d.mute_id == mute_id


def one_delivery(delivery_id: str) -> sa.ColumnElement[bool]:
    return _d.id == delivery_id

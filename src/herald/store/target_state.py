"""Targets' shared rows: rate-limit history, platform penalty and circuit, locked while a
claim hands out slots so every worker sees the same limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.breaker import Circuit
from herald.domain.dispatch import TargetState
from herald.store.dialect import lock_rows
from herald.store.fanout import ensure_targets
from herald.store.tables import targets


def load_target_states(
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


def save_target_state(
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

"""Delivery history use cases: listings, detail with attempts, resend, stats, target states."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from herald.domain.filters import HistoryFilter
from herald.runtime.clock import Clock
from herald.runtime.wakeups import Wakeups
from herald.store import history_repo as repo
from herald.store.db import Database
from herald.store.fanout import notify_other_workers

__all__ = ["HistoryFilter", "HistoryService"]


class HistoryService:
    def __init__(self, db: Database, clock: Clock, wakeups: Wakeups) -> None:
        self.db = db
        self.clock = clock
        self.wakeups = wakeups

    def deliveries(
        self, flt: HistoryFilter, before: str | None, limit: int
    ) -> tuple[list[Any], dict[str, Any]]:
        with self.db.read() as conn:
            return repo.list_deliveries(conn, flt, before=before, limit=limit)

    def detail(self, delivery_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = repo.get_delivery(conn, delivery_id)
            return {
                "delivery": row,
                "attempts": repo.attempts_of(conn, delivery_id),
                "members": repo.digest_members(conn, delivery_id) if row.kind == "digest" else [],
            }

    def get(self, delivery_id: str) -> Any:
        with self.db.read() as conn:
            return repo.get_delivery(conn, delivery_id)

    def resend(self, delivery_id: str) -> Any:
        with self.db.transaction() as uow:
            repo.resend(uow.conn, delivery_id, self.clock.now())
            notify_other_workers(uow.conn)
            uow.after_commit(self.wakeups.deliveries.fire)
        return self.get(delivery_id)

    def stats(self, flt: HistoryFilter) -> list[dict[str, Any]]:
        """Per channel type and event type: counts by status, success rate, latency p50/p95."""
        with self.db.read() as conn:
            counts = repo.stats_rows(conn, flt)
            samples = repo.latencies(conn, flt)
        table: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {"success": 0, "failed": 0, "pending": 0}
        )
        for channel, event, status, n in counts:
            table[(channel, event)][status] = n
        latency: dict[tuple[str, str], list[float]] = defaultdict(list)
        for channel, event, ms in samples:
            latency[(channel, event)].append(ms)
        return [
            _stat(key, table[key], latency.get(key, []))
            for key in sorted(set(table) | set(latency))
        ]

    def targets(self, visible: set[str] | None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = repo.list_targets(conn, visible)
            pending = repo.pending_counts(conn, [r.key for r in rows])
        now = self.clock.time()
        return [
            {
                "key": r.key,
                "channel_type": r.channel_type,
                "description": r.description,
                "circuit": r.circuit,
                "consecutive_failures": r.failures,
                "probe_at": _instant(r.probe_at),
                "penalty_until": _instant(
                    r.penalty_until if r.penalty_until and r.penalty_until > now else None
                ),
                "sends_last_minute": sum(1 for t in r.sends if t > now - 60),
                "pending": pending.get(r.key, 0),
                "last_error": r.last_error,
            }
            for r in rows
        ]


def _instant(unix_seconds: float | None) -> dt.datetime | None:
    return None if unix_seconds is None else dt.datetime.fromtimestamp(unix_seconds, dt.UTC)


def _stat(key: tuple[str, str], counts: dict[str, Any], latency: list[float]) -> dict[str, Any]:
    finished = counts["success"] + counts["failed"]
    return {
        "channel_type": key[0],
        "event_type": key[1],
        "success": counts["success"],
        "failed": counts["failed"],
        "pending": counts["pending"],
        "success_rate": round(counts["success"] / finished, 4) if finished else None,
        "latency_p50_ms": _percentile(latency, 50),
        "latency_p95_ms": _percentile(latency, 95),
        "attempts_measured": len(latency),
    }


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 3)

"""Delivery history use cases: listings, detail with attempts, resend, stats, target states.

The views are frozen dataclasses whose attribute names are the API's field names, so a route
maps them with `model_validate(view, from_attributes=True)`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from herald.domain.delivery import DeliveryKind, DeliveryStatus
from herald.domain.filters import HistoryFilter
from herald.runtime.clock import Clock
from herald.runtime.wakeups import Wakeups
from herald.store import history_repo as repo
from herald.store.db import Database
from herald.store.fanout import notify_other_workers
from herald.store.history_repo import AttemptRow, DeliveryRow, DigestMemberRow

__all__ = ["DeliveryDetail", "DeliveryView", "HistoryFilter", "HistoryService"]


@dataclass(frozen=True)
class DeliveryView:
    """One delivery (PRD CallbackHistory): `request`, `response` and the answer's figures
    come from its latest attempt."""

    id: str
    task_id: str | None
    event_type: str
    channel_type: str
    target_key: str  # the `key` of its target in the targets list (circuit, penalty)
    status: DeliveryStatus
    request: dict[str, object]
    response: str
    error: str | None
    created_at: dt.datetime
    kind: DeliveryKind
    project_id: str
    config_id: str
    channel_id: str
    event_id: str | None
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime | None  # only while pending
    last_outcome: str | None
    platform_code: str | None
    http_status: int | None
    latency_ms: float | None
    digest_id: str | None
    digest_size: int | None
    finished_at: dt.datetime | None
    mute_id: str | None  # the mute window that held it

    @classmethod
    def of(cls, row: DeliveryRow, last: AttemptRow | None) -> DeliveryView:
        return cls(
            id=row.id,
            task_id=row.task_id,
            event_type=row.event_type,
            channel_type=row.channel_type,
            target_key=row.target_key,
            status=row.status,
            request=last.request if last else {},
            response=(last.response or "") if last else "",
            error=row.last_error,
            created_at=row.created_at,
            kind=row.kind,
            project_id=row.project_id,
            config_id=row.config_id,
            channel_id=row.channel_id,
            event_id=row.event_id,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
            last_outcome=row.last_outcome,
            platform_code=row.last_code,
            http_status=last.response_status if last else None,
            latency_ms=last.latency_ms if last else None,
            digest_id=row.digest_id,
            digest_size=row.digest_size,
            finished_at=row.finished_at,
            mute_id=row.mute_id,
        )


@dataclass(frozen=True)
class DeliveryDetail(DeliveryView):
    attempt_log: list[AttemptRow] = field(default_factory=list)
    members: list[DigestMemberRow] = field(default_factory=list)  # of a digest


@dataclass(frozen=True)
class DeliveryStats:
    channel_type: str
    event_type: str
    success: int
    failed: int
    pending: int
    muted: int
    dropped: int
    success_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    attempts_measured: int


@dataclass(frozen=True)
class TargetView:
    key: str
    channel_type: str
    description: str
    circuit: str
    consecutive_failures: int
    probe_at: dt.datetime | None
    penalty_until: dt.datetime | None  # only while it lasts
    sends_last_minute: int
    pending: int
    last_error: str | None


class HistoryService:
    def __init__(self, db: Database, clock: Clock, wakeups: Wakeups) -> None:
        self.db = db
        self.clock = clock
        self.wakeups = wakeups

    def deliveries(self, flt: HistoryFilter, before: str | None, limit: int) -> list[DeliveryView]:
        """Deliveries newest first, below the id `before` (a page's last) when given."""
        with self.db.read() as conn:
            rows, last = repo.list_deliveries(conn, flt, before=before, limit=limit)
        return [DeliveryView.of(r, last.get(r.id)) for r in rows]

    def detail(self, delivery_id: str) -> DeliveryDetail:
        with self.db.read() as conn:
            row = repo.get_delivery(conn, delivery_id)
            attempts = repo.attempts_of(conn, delivery_id)
            members = (
                repo.digest_members(conn, delivery_id) if row.kind == DeliveryKind.DIGEST else []
            )
        base = DeliveryView.of(row, attempts[-1] if attempts else None)
        return DeliveryDetail(**vars(base), attempt_log=attempts, members=members)

    def get(self, delivery_id: str) -> DeliveryView:
        with self.db.read() as conn:
            return DeliveryView.of(repo.get_delivery(conn, delivery_id), None)

    def resend(self, delivery_id: str) -> DeliveryView:
        with self.db.transaction() as uow:
            repo.resend(uow.conn, delivery_id, self.clock.now())
            notify_other_workers(uow.conn)
            uow.after_commit(self.wakeups.deliveries.fire)
        return self.get(delivery_id)

    def stats(self, flt: HistoryFilter) -> list[DeliveryStats]:
        """Per channel type and event type: counts by status, success rate, latency p50/p95."""
        with self.db.read() as conn:
            counts = repo.stats_rows(conn, flt)
            samples = repo.latencies(conn, flt)
        table: dict[tuple[str, str], dict[DeliveryStatus, int]] = defaultdict(dict)
        for c in counts:
            table[(c.channel_type, c.event_type)][c.status] = c.count
        latency: dict[tuple[str, str], list[float]] = defaultdict(list)
        for s in samples:
            latency[(s.channel_type, s.event_type)].append(s.latency_ms)
        return [
            _stat(key, table[key], latency.get(key, []))
            for key in sorted(set(table) | set(latency))
        ]

    def targets(self, visible: set[str] | None) -> list[TargetView]:
        with self.db.read() as conn:
            rows = repo.list_targets(conn, visible)
            pending = repo.pending_counts(conn, [r.key for r in rows])
        now = self.clock.time()
        return [
            TargetView(
                key=r.key,
                channel_type=r.channel_type,
                description=r.description,
                circuit=r.circuit,
                consecutive_failures=r.failures,
                probe_at=_instant(r.probe_at),
                penalty_until=_instant(
                    r.penalty_until if r.penalty_until and r.penalty_until > now else None
                ),
                sends_last_minute=sum(1 for t in r.sends if t > now - 60),
                pending=pending.get(r.key, 0),
                last_error=r.last_error,
            )
            for r in rows
        ]


def _instant(unix_seconds: float | None) -> dt.datetime | None:
    return None if unix_seconds is None else dt.datetime.fromtimestamp(unix_seconds, dt.UTC)


def _stat(
    key: tuple[str, str], counts: dict[DeliveryStatus, int], latency: list[float]
) -> DeliveryStats:
    success = counts.get(DeliveryStatus.SUCCESS, 0)
    failed = counts.get(DeliveryStatus.FAILED, 0)
    finished = success + failed
    return DeliveryStats(
        channel_type=key[0],
        event_type=key[1],
        success=success,
        failed=failed,
        pending=counts.get(DeliveryStatus.PENDING, 0),
        muted=counts.get(DeliveryStatus.MUTED, 0),
        dropped=counts.get(DeliveryStatus.DROPPED, 0),
        success_rate=round(success / finished, 4) if finished else None,
        latency_p50_ms=_percentile(latency, 50),
        latency_p95_ms=_percentile(latency, 95),
        attempts_measured=len(latency),
    )


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 3)

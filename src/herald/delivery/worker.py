"""The delivery worker: fan out new events, claim due deliveries, send them, record results.

One asyncio loop per process with one shared HTTP session. Sends run concurrently, bounded
overall and per target, so a slow or dead endpoint holds at most its own few slots while every
other target keeps its normal latency. Results are written back in batches by a single writer.
It wakes on in-process signals (embedded mode), on PostgreSQL NOTIFY (scaled out) and, as the
fallback, on a poll timer.

The worker's own database work (claims, result batches) runs on the loop's thread. Each
statement is a short round trip; run from a helper thread, every round trip would then wait for
the interpreter lock while the loop is busy sending, which multiplied PostgreSQL claim times.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp.abc import AbstractResolver

from herald.channels.registry import SENDERS
from herald.delivery.attempts import AttemptRunner, orphan_record
from herald.delivery.http_client import HttpClient
from herald.delivery.pruning import HistoryPruner
from herald.delivery.wecom_tokens import WeComTokens
from herald.domain.delivery import DeliveryStatus
from herald.domain.ids import new_id
from herald.domain.ratelimit import Limit
from herald.domain.retry import DEFAULT_SCHEDULE
from herald.observability.metrics import Metrics
from herald.publishing import stored_configs as config_store
from herald.publishing.config_model import CallbackConfig
from herald.runtime.clock import Clock
from herald.runtime.heartbeats import Heartbeats, guarded_cycles
from herald.runtime.settings import RetentionSettings, WorkerSettings
from herald.runtime.wakeups import Wakeups
from herald.security.egress import EgressPolicy
from herald.security.egress_proxy import EgressRoutes
from herald.security.encryption import KeyRing
from herald.store import claims, results
from herald.store import fanout as delivery
from herald.store.claims import Claimed, ClaimPolicy
from herald.store.db import Connection, Database
from herald.store.listener import listen
from herald.store.results import AttemptRecord

log = logging.getLogger(__name__)
DEFAULT_ATTEMPTS = len(DEFAULT_SCHEDULE) + 1
MIN_IDLE_SLEEP = 0.05
WRITE_RETRIES = 6
DRAIN_SECONDS = 10.0
WRITER_DELAY = 0.005  # a claim usually comes sooner and takes the results along


@dataclass
class WorkerParts:
    db: Database
    clock: Clock
    keyring: KeyRing
    wakeups: Wakeups
    metrics: Metrics
    settings: WorkerSettings
    egress: EgressPolicy
    base_url: str
    database_url: str
    resolver: AbstractResolver | None = None  # DNS seam for tests; the egress guard wraps it
    routes: EgressRoutes = field(default_factory=EgressRoutes)  # egress proxy and CA bundle
    beats: Heartbeats = field(default_factory=Heartbeats)
    retention: RetentionSettings | None = None  # None or disabled: this worker never prunes


def claim_policy(settings: WorkerSettings) -> ClaimPolicy:
    """What claims need to know about channel types, from the senders and the settings."""
    return ClaimPolicy(
        published_limits={
            t: tuple(Limit(r.count, r.per_seconds) for r in s.default_rate_limits)
            for t, s in SENDERS.items()
        },
        digest_types=frozenset(t for t, s in SENDERS.items() if s.supports_digest),
        default_timeout=settings.request_timeout,
        lease_margin=settings.lease_margin,
        requests_per_delivery={t: s.requests_per_delivery for t, s in SENDERS.items()},
        max_in_flight={t: 1 for t, s in SENDERS.items() if s.one_at_a_time},
        default_in_flight=settings.per_target_concurrency,
        default_attempts=DEFAULT_ATTEMPTS,
    )


class DeliveryWorker:
    def __init__(self, parts: WorkerParts, owner: str | None = None) -> None:
        self.p = parts
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"
        self.http = HttpClient(
            parts.egress,
            limit=parts.settings.concurrency * 2,
            resolver=parts.resolver,
            routes=parts.routes,
        )
        self.tokens = WeComTokens(
            parts.db, parts.keyring, self.http, parts.clock, parts.settings.request_timeout
        )
        self.attempts = AttemptRunner(
            self.http, self.tokens, parts.clock, parts.base_url, parts.settings.request_timeout
        )
        self.policy = claim_policy(parts.settings)
        self.configs: dict[str, CallbackConfig] = {}
        self.unreadable: dict[str, str] = {}  # config id → why its secrets cannot be read
        self.in_flight: Counter[str] = Counter()
        self.caps: dict[str, int] = {}  # target → requests it may have in flight at once
        self.active = 0
        self.due: list[float] = []  # heap of times (Unix s) deliveries this worker set are due
        self.work = asyncio.Event()  # new events or deliveries: claim now
        self.slot = asyncio.Event()  # a send finished
        self.backlog = False  # the last claim was full: more is probably due
        self.saturated = False  # the last claim skipped targets at their concurrency limit
        self.results: asyncio.Queue[AttemptRecord] = asyncio.Queue()
        self._sends: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Work until cancelled; then finish in-flight sends briefly and flush their results."""
        self.p.wakeups.events.subscribe(self.work)
        self.p.wakeups.deliveries.subscribe(self.work)
        helpers = [asyncio.create_task(self._writer())]
        if self.p.db.is_postgres:
            helpers.append(asyncio.create_task(listen(self.p.database_url, self.work)))
        if self.p.retention is not None and self.p.retention.enabled:
            pruner = HistoryPruner(self.p.db, self.p.clock, self.p.retention)
            helpers.append(asyncio.create_task(pruner.run()))
        try:
            await guarded_cycles("delivery", self._cycle, self.p.beats, log)
        finally:
            for signal in (self.p.wakeups.events, self.p.wakeups.deliveries):
                signal.unsubscribe(self.work)
            await self._drain(helpers)

    async def _cycle(self) -> None:
        """Fan out and claim in one transaction, start the sends, then wait for a reason to
        claim again: new work signalled, enough slots freed while a backlog remains, or the
        next delivery falling due (polling only as the fallback)."""
        self.work.clear()
        free = self.p.settings.concurrency - self.active
        asked = min(free, self.p.settings.claim_batch)
        claimed: list[Claimed] = []
        if asked > 0:
            claimed = await self._claim(asked)
            for item in claimed:
                self._start(item)
        self.backlog = asked > 0 and len(claimed) >= asked
        if self.backlog and self.p.settings.concurrency - self.active >= self._refill_at:
            return
        sleep = 0.0 if self.work.is_set() else self._sleep_seconds()
        # Due work we could not take (its target is saturated, or another worker holds the
        # rows) must not turn into a busy loop; finished sends and signals wake us anyway.
        await self._wait(sleep if claimed or self.backlog else max(sleep, MIN_IDLE_SLEEP))

    @property
    def _refill_at(self) -> int:
        # Claiming costs a transaction whatever its size: refill in halves, not one by one.
        return max(1, min(self.p.settings.claim_batch, self.p.settings.concurrency) // 2)

    async def _wait(self, seconds: float) -> None:
        if self.work.is_set():
            return
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(self.work.wait())]
        if self.backlog or self.saturated:
            waiters.append(asyncio.create_task(self._slots_freed()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _slots_freed(self) -> None:
        while True:
            await self.slot.wait()
            self.slot.clear()
            free = self.p.settings.concurrency - self.active
            if free >= self._refill_at or (self.saturated and not self._saturated_targets()):
                return

    def _saturated_targets(self) -> list[str]:
        return [k for k, n in self.in_flight.items() if n >= self.caps.get(k, 1)]

    async def _claim(self, limit: int) -> list[Claimed]:
        """One transaction: store waiting results, fan out new events, claim due deliveries.

        Riding along with the claim saves a transaction per event under steady traffic; if the
        transaction fails, the results go back to the queue for the writer.
        """
        saturated = self._saturated_targets()
        now = self.p.clock.now()
        finished = self._take_results()

        def work(conn: Connection) -> claims.ClaimResult:
            results.record(conn, finished, now)
            created = delivery.fan_out(conn, now, DEFAULT_ATTEMPTS)
            outcome = claims.claim(
                conn,
                owner=self.owner,
                now=now,
                limit=limit,
                exclude_targets=saturated,
                policy=self.policy,
            )
            self._refresh_configs(conn, outcome.config_stamps)
            if created and len(outcome.claimed) >= limit:
                delivery.notify_other_workers(conn)  # more than this worker can take now
            return outcome

        try:
            with self.p.db.transaction(replayable=True) as uow:
                outcome = work(uow.conn)
        except Exception:
            for record in finished:
                self.results.put_nowait(record)
            raise
        finally:
            for _ in finished:
                self.results.task_done()
        self._observe(finished)
        self.saturated = bool(saturated)
        if outcome.next_due is not None:
            heapq.heappush(self.due, outcome.next_due)
        self.p.metrics.rate_limit_waits.inc(outcome.rate_limited)
        self.p.metrics.digested.inc(outcome.merged)
        return outcome.claimed

    def _refresh_configs(self, conn: Connection, stamps: dict[str, dt.datetime]) -> None:
        known = {cid: c.updated_at for cid, c in self.configs.items() if cid in stamps}
        loaded, broken = config_store.load_changed(conn, stamps, known, self.p.keyring)
        for config in loaded:
            self.configs[config.id] = config
            self.unreadable.pop(config.id, None)
        for config_id, reason in broken.items():
            self.configs.pop(config_id, None)
            self.unreadable[config_id] = reason

    def _sleep_seconds(self) -> float:
        """Until the next retry or postponed delivery this worker knows of, at most the poll
        interval (which also catches other workers' schedules and expired leases)."""
        now = self.p.clock.time()
        while self.due and self.due[0] <= now:
            heapq.heappop(self.due)
        sleep = self.p.settings.poll_interval
        if self.due:
            sleep = min(sleep, self.due[0] - now)
        return max(sleep, 0.0)

    def _start(self, item: Claimed) -> None:
        self.active += 1
        self.in_flight[item.target_key] += 1
        self.caps[item.target_key] = self.policy.in_flight_cap(item.channel_type)
        task = asyncio.create_task(self._send(item))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, item: Claimed) -> None:
        try:
            record = await self._attempt(item)
            if item.event_at is not None and item.attempts == 0 and record.response_status:
                finished = record.started_at.timestamp() + record.latency_ms / 1000
                self.p.metrics.end_to_end.labels(item.channel_type).observe(
                    max(finished - item.event_at.timestamp(), 0.0)
                )
            await self.results.put(record)
        finally:
            self.active -= 1
            self.in_flight[item.target_key] -= 1
            if self.in_flight[item.target_key] <= 0:
                del self.in_flight[item.target_key]
                del self.caps[item.target_key]
            self.slot.set()

    async def _attempt(self, item: Claimed) -> AttemptRecord:
        if item.config_id in self.unreadable:
            reason = self.unreadable[item.config_id]
            log.error("delivery %s: %s", item.id, reason, extra={"delivery_id": item.id})
            return self.attempts.unsendable(item, reason)
        config = self.configs.get(item.config_id)
        channel = (
            next((ch for ch in config.channels if ch.id == item.channel_id), None)
            if config
            else None
        )
        if config is None or channel is None:
            return orphan_record(item, self.p.clock.now())
        return await self.attempts.run(item, config, channel)

    async def _writer(self) -> None:
        """Stores results the claim transactions did not pick up within `WRITER_DELAY`."""
        while True:
            first = await self.results.get()
            self.results.put_nowait(first)
            self.results.task_done()
            await asyncio.sleep(WRITER_DELAY)
            batch = self._take_results()
            if not batch:
                continue
            if await self._write_with_retries(batch):
                self._observe(batch)
                if any(r.status != DeliveryStatus.PENDING and r.task_id for r in batch):
                    self.work.set()  # later events of those tasks to those targets may go now
            for _ in batch:
                self.results.task_done()

    def _take_results(self, most: int = 500) -> list[AttemptRecord]:
        taken: list[AttemptRecord] = []
        while not self.results.empty() and len(taken) < most:
            taken.append(self.results.get_nowait())
        return taken

    async def _write_with_retries(self, batch: list[AttemptRecord]) -> bool:
        """Results are worth retrying: once a lease expires, a lost result means a resend."""
        for attempt in range(WRITE_RETRIES):
            try:
                self._write(batch)
                return True
            except Exception:
                log.exception(
                    "writing %d delivery results failed (try %d)", len(batch), attempt + 1
                )
                await asyncio.sleep(min(0.5 * 2**attempt, 10.0))
        return False

    def _write(self, batch: list[AttemptRecord]) -> None:
        now = self.p.clock.now()
        with self.p.db.transaction(replayable=True) as uow:
            results.record(uow.conn, batch, now)

    def _observe(self, batch: list[AttemptRecord]) -> None:
        m = self.p.metrics
        for r in batch:
            m.attempts.labels(r.channel_type, r.event_type, r.outcome).inc()
            m.latency.labels(r.channel_type).observe(r.latency_ms / 1000)
            if r.status != DeliveryStatus.PENDING:
                m.deliveries.labels(r.channel_type, r.event_type, r.status).inc()
            if (
                r.status == DeliveryStatus.PENDING
                and r.next_attempt_at
                and r.next_attempt_at <= self.p.clock.now()
            ):
                self.work.set()

    async def _drain(self, helpers: list[asyncio.Task[Any]]) -> None:
        try:
            if self._sends:
                await asyncio.wait(self._sends, timeout=5.0)
            for task in list(self._sends):
                task.cancel()
            await asyncio.gather(*self._sends, return_exceptions=True)
            # Let the writer store what was sent: a lost result means a resend after the lease.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.results.join(), DRAIN_SECONDS)
        finally:
            # Even if shutdown is cancelled again, the session must not be left open.
            for helper in helpers:
                helper.cancel()
            await asyncio.shield(self._close(helpers))

    async def _close(self, helpers: list[asyncio.Task[Any]]) -> None:
        await asyncio.gather(*helpers, return_exceptions=True)
        await self.http.close()

"""History retention, applied by the worker: finished deliveries past their project's age or
count limit are deleted in bounded batches (`store.retention`), each its own short transaction,
off the worker's event loop and with a pause between batches, so deliveries keep flowing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from functools import partial

from herald.runtime.clock import Clock
from herald.runtime.settings import RetentionSettings
from herald.store import retention
from herald.store.db import Database

log = logging.getLogger(__name__)
ERROR_BACKOFF = 60.0


@dataclass(frozen=True)
class Rule:
    """One project's effective limits (None: no limit of that kind)."""

    max_age_days: float | None
    max_count: int | None


class HistoryPruner:
    """Applies `RetentionSettings`: `prune()` runs one round to completion; `run()` repeats it
    every `interval` seconds until cancelled."""

    def __init__(self, db: Database, clock: Clock, settings: RetentionSettings) -> None:
        self.db, self.clock, self.s = db, clock, settings
        self._stopping = threading.Event()

    def rules(self) -> tuple[dict[str, Rule], Rule]:
        """Per-project overrides (by project id) and the global rule."""
        default = Rule(self.s.max_age_days, self.s.max_count)
        if not self.s.projects:
            return {}, default
        with self.db.read() as conn:
            by_name = retention.project_ids(conn)
        ids = set(by_name.values())
        own: dict[str, Rule] = {}
        for key, override in self.s.projects.items():
            project_id = key if key in ids else by_name.get(key)
            if project_id is None:
                log.warning("retention: no project %r; its override is ignored", key)
                continue
            own[project_id] = Rule(
                override.max_age_days
                if override.max_age_days is not None
                else default.max_age_days,
                override.max_count if override.max_count is not None else default.max_count,
            )
        return own, default

    def prune(self) -> int:
        """One round: every limit, batch by batch until nothing is left to prune; how many
        deliveries were deleted."""
        own, default = self.rules()
        now = self.clock.now()
        deleted = 0
        if default.max_age_days is not None:
            cutoff = now - dt.timedelta(days=default.max_age_days)
            deleted += self._batches(
                lambda conn: retention.prune_older_than(
                    conn, cutoff, self.s.batch_size, exclude=sorted(own)
                )
            )
        for project_id, rule in own.items():
            if rule.max_age_days is not None:
                cutoff = now - dt.timedelta(days=rule.max_age_days)
                deleted += self._batches(
                    partial(
                        retention.prune_older_than,
                        cutoff=cutoff,
                        batch=self.s.batch_size,
                        only=[project_id],
                    )
                )
        for project_id, keep in self._count_limits(own, default).items():
            deleted += self._batches(
                partial(
                    retention.prune_beyond_count,
                    project_id=project_id,
                    keep=keep,
                    batch=self.s.batch_size,
                )
            )
        return deleted

    def _count_limits(self, own: dict[str, Rule], default: Rule) -> dict[str, int]:
        limits = {p: r.max_count for p, r in own.items() if r.max_count is not None}
        if default.max_count is not None:
            with self.db.read() as conn:
                every = set(retention.project_ids(conn).values())
            limits = dict.fromkeys(every - set(own), default.max_count) | limits
        return limits

    def _batches(self, step: retention.Step) -> int:
        total = 0
        while not self._stopping.is_set():
            with self.db.transaction() as uow:
                n = step(uow.conn)
            total += n
            if n < self.s.batch_size:
                break
            time.sleep(self.s.pause)
        return total

    async def run(self) -> None:
        """Prune now and then every `interval` seconds, until cancelled."""
        try:
            while True:
                try:
                    deleted = await asyncio.to_thread(self.prune)
                    if deleted:
                        log.info("retention: deleted %d finished deliveries", deleted)
                    await asyncio.sleep(self.s.interval)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("retention: pruning failed; trying again later")
                    await asyncio.sleep(min(self.s.interval, ERROR_BACKOFF))
        finally:
            self._stopping.set()

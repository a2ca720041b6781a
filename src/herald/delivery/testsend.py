"""Test sends: a sample event to a config's channels now, answered with each channel's outcome.

A test goes through the same rate limits, circuit and egress guard as real deliveries (a test
that trips DingTalk's 10-minute lock would hurt real notifications), is attempted once, and is
recorded in the history as a `test` delivery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from herald.delivery.attempts import AttemptRunner
from herald.delivery.http_client import HttpClient
from herald.delivery.wecom_tokens import WeComTokens
from herald.delivery.worker import DEFAULT_ATTEMPTS, WorkerParts, claim_policy
from herald.domain.errors import InvalidInput
from herald.domain.events import EventType
from herald.domain.ids import new_id
from herald.domain.samples import sample_event
from herald.publishing.config_model import CallbackConfig, Channel
from herald.store import claims, project_repo, results
from herald.store import config_repo as config_store
from herald.store.results import AttemptRecord
from herald.store.tables import deliveries


@dataclass(frozen=True)
class SendTestResult:
    channel_id: str
    channel_type: str
    delivery_id: str
    outcome: str
    code: str | None
    message: str
    http_status: int | None
    latency_ms: float

    @property
    def delivered(self) -> bool:
        return self.outcome in ("delivered", "partial")


class SendTester:
    def __init__(self, parts: WorkerParts) -> None:
        self.p = parts
        self.policy = claim_policy(parts.settings)
        self._runners: dict[int, AttemptRunner] = {}

    def _runner(self) -> AttemptRunner:
        """One HTTP session per event loop (the API's loop in production)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._runners:
            http = HttpClient(self.p.egress, limit=20, resolver=self.p.resolver)
            tokens = WeComTokens(
                self.p.db, self.p.keyring, http, self.p.clock, self.p.settings.request_timeout
            )
            self._runners[loop] = AttemptRunner(
                http, tokens, self.p.clock, self.p.base_url, self.p.settings.request_timeout
            )
        return self._runners[loop]

    async def aclose(self) -> None:
        """Close the HTTP session of the running loop (at application shutdown)."""
        runner = self._runners.pop(id(asyncio.get_running_loop()), None)
        if runner is not None:
            await runner.http.close()

    async def send(
        self, config_id: str, event_type: EventType, channel_id: str | None
    ) -> list[SendTestResult]:
        prepared = await asyncio.to_thread(self._prepare, config_id, event_type, channel_id)
        config, claimed, held = prepared
        channels = {ch.id: ch for ch in config.channels}
        runner = self._runner()
        records = await asyncio.gather(
            *(runner.run(c, config, channels[c.channel_id]) for c in claimed)
        )
        await asyncio.to_thread(self._write, list(records))
        return [_result(r) for r in records] + held

    def _prepare(
        self, config_id: str, event_type: EventType, channel_id: str | None
    ) -> tuple[CallbackConfig, list[claims.Claimed], list[SendTestResult]]:
        now = self.p.clock.now()
        with self.p.db.transaction() as uow:
            config = config_store.get_config(uow.conn, config_id, self.p.keyring)
            chosen = _channels(config, channel_id)
            project = project_repo.get_project(uow.conn, config.project_id)
            payload, context = sample_event(project.id, project.name, event_type, now, new_id())
            rows = [
                _row(config, ch, event_type, {"payload": payload, "context": context}, now)
                for ch in chosen
            ]
            uow.execute(deliveries.insert(), rows)
            outcome = claims.claim(
                uow.conn,
                owner="test-send",
                now=now,
                limit=len(rows),
                exclude_targets=(),
                policy=self.policy,
                only=[r["id"] for r in rows],
            )
            taken = {c.id for c in outcome.claimed}
            held = [_held(uow, row, now) for row in rows if row["id"] not in taken]
        return config, outcome.claimed, held

    def _write(self, records: list[AttemptRecord]) -> None:
        with self.p.db.transaction() as uow:
            results.record(uow.conn, records, self.p.clock.now())


def _channels(config: CallbackConfig, channel_id: str | None) -> list[Channel]:
    if channel_id is not None:
        found = [ch for ch in config.channels if ch.id == channel_id]
        if not found:
            raise InvalidInput(f"channel {channel_id} is not part of callback config {config.id}")
        return found
    enabled = [ch for ch in config.channels if ch.enabled]
    if not enabled:
        raise InvalidInput(f"callback config {config.id} has no enabled channel to test")
    return enabled


def _row(
    config: CallbackConfig,
    channel: Channel,
    event_type: EventType,
    event: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "kind": "test",
        "event_id": None,
        "config_id": config.id,
        "channel_id": channel.id,
        "project_id": config.project_id,
        "task_id": None,
        "event_type": event_type.value,
        "channel_type": channel.type,
        "target_key": channel.target_key,
        "status": "pending",
        "attempts": 0,
        "max_attempts": 1,
        "trigger": "test",
        "next_attempt_at": now,
        "payload": event,
        "created_at": now,
        "updated_at": now,
    }


def _held(uow: Any, row: dict[str, Any], now: dt.datetime) -> SendTestResult:
    """A test the target's rate limit, penalty or open circuit holds back: not sent, failed."""
    message = "not sent: the target is rate limited or its circuit is open; try again shortly"
    uow.execute(
        deliveries.update()
        .where(deliveries.c.id == row["id"])
        .values(status="failed", last_outcome="rate_limited", last_error=message, finished_at=now)
    )
    return SendTestResult(
        row["channel_id"], row["channel_type"], row["id"], "rate_limited", None, message, None, 0.0
    )


def _result(record: AttemptRecord) -> SendTestResult:
    return SendTestResult(
        channel_id=record.channel_id,
        channel_type=record.channel_type,
        delivery_id=record.delivery_id,
        outcome=record.outcome,
        code=record.platform_code,
        message=record.error or "delivered",
        http_status=record.response_status,
        latency_ms=round(record.latency_ms, 1),
    )


__all__ = ["DEFAULT_ATTEMPTS", "SendTestResult", "SendTester"]

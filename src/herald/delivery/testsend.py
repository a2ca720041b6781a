"""Test sends: a sample event to a config's channels now, answered with each channel's outcome.

A test goes through the same rate limits, circuit and egress guard as real deliveries (a test
that trips DingTalk's 10-minute lock would hurt real notifications), is attempted once, and is
recorded in the history as a `test` delivery.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from herald.delivery.attempts import AttemptRunner
from herald.delivery.http_client import HttpClient
from herald.delivery.wecom_tokens import WeComTokens
from herald.delivery.worker import DEFAULT_ATTEMPTS, WorkerParts, claim_policy
from herald.domain.delivery import DELIVERED, AttemptOutcome
from herald.domain.errors import InvalidInput
from herald.domain.events import EventType
from herald.domain.ids import new_id
from herald.domain.samples import sample_event
from herald.publishing import stored_configs as config_store
from herald.publishing.config_model import CallbackConfig, Channel
from herald.store import claims, delivery_state, project_repo, results
from herald.store.results import AttemptRecord


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
        return self.outcome in DELIVERED


class SendTester:
    def __init__(self, parts: WorkerParts) -> None:
        self.p = parts
        self.policy = claim_policy(parts.settings)
        self._runners: dict[int, AttemptRunner] = {}

    def _runner(self) -> AttemptRunner:
        """One HTTP session per event loop (the API's loop in production)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._runners:
            http = HttpClient(
                self.p.egress, limit=20, resolver=self.p.resolver, routes=self.p.routes
            )
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
            project_id, project_name = _sample_project(uow, config)
            payload, context = sample_event(project_id, project_name, event_type, now, new_id())
            event = {"payload": payload, "context": context}
            tests = [_test(config, ch, event_type, event) for ch in chosen]
            ids = delivery_state.create_tests(uow.conn, tests, now)
            outcome = claims.claim(
                uow.conn,
                owner="test-send",
                now=now,
                limit=len(ids),
                exclude_targets=(),
                policy=self.policy,
                only=ids,
            )
            taken = {c.id for c in outcome.claimed}
            held = [
                _held(did, test) for did, test in zip(ids, tests, strict=True) if did not in taken
            ]
            delivery_state.hold_back_tests(uow.conn, [h.delivery_id for h in held], HELD, now)
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


def _test(
    config: CallbackConfig, channel: Channel, event_type: EventType, event: dict[str, Any]
) -> delivery_state.NewTest:
    return delivery_state.NewTest(
        config_id=config.id,
        channel_id=channel.id,
        project_id=config.project_id or ORGANISATION,
        event_type=event_type.value,
        channel_type=channel.type,
        target_key=channel.target_key,
        event=event,
    )


# An organisation rule's test send speaks for no project in particular.
ORGANISATION = "organisation"


def _sample_project(uow: Any, config: CallbackConfig) -> tuple[str, str]:
    if config.project_id is None:
        return ORGANISATION, ORGANISATION
    project = project_repo.get_project(uow.conn, config.project_id)
    return project.id, project.name


HELD = "not sent: the target is rate limited or its circuit is open; try again shortly"


def _held(delivery_id: str, test: delivery_state.NewTest) -> SendTestResult:
    """A test the target's rate limit, penalty or open circuit holds back: not sent, failed."""
    return SendTestResult(
        test.channel_id,
        test.channel_type,
        delivery_id,
        AttemptOutcome.RATE_LIMITED,
        None,
        HELD,
        None,
        0.0,
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

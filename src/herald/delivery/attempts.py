"""One delivery attempt: render through the channel's sender, send, judge, decide what next.

The outcome of an attempt is an `AttemptRecord`: the history row plus the delivery's next state
(success, failed, or pending with the time of the next try). Retries never fire early: jitter
only adds to the schedule, and a `Retry-After` or a platform penalty only pushes it later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from herald.channels.base import OutboundRequest, Outcome, OutcomeKind, Sender
from herald.channels.capabilities import TokenAuth
from herald.channels.credentials import secret_values
from herald.channels.registry import get_sender
from herald.delivery.http_client import HttpClient, HttpResult
from herald.delivery.wecom_tokens import TokenFailure, WeComTokens
from herald.domain.retry import MAX_RETRY_AFTER, RetryPolicy
from herald.publishing.config_model import CallbackConfig, Channel
from herald.publishing.event_views import event_view
from herald.runtime.clock import Clock
from herald.security.redaction import redact_text
from herald.store.claims import Claimed
from herald.store.results import AttemptRecord

log = logging.getLogger(__name__)
REQUEST_BODY_CAP = 16_384
RESPONSE_BODY_CAP = 8_192


@dataclass
class Sent:
    request: OutboundRequest | None
    result: HttpResult | None
    outcome: Outcome


class AttemptRunner:
    def __init__(
        self,
        http: HttpClient,
        tokens: WeComTokens,
        clock: Clock,
        base_url: str,
        chat_timeout: float,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.clock = clock
        self.base_url = base_url
        self.chat_timeout = chat_timeout
        self._secret_cache: dict[tuple[str, dt.datetime], list[str]] = {}

    async def run(
        self, claimed: Claimed, config: CallbackConfig, channel: Channel
    ) -> AttemptRecord:
        started = self.clock.now()
        try:
            sent = await self._send(claimed, config, channel)
        except Exception as exc:  # a rendering bug must not kill the worker or lose the delivery
            log.exception("attempt failed before sending", extra={"delivery_id": claimed.id})
            sent = Sent(
                None,
                None,
                Outcome(OutcomeKind.RETRYABLE, None, f"internal error: {type(exc).__name__}"),
            )
        return self._record(claimed, channel, sent, started)

    async def _send(self, claimed: Claimed, config: CallbackConfig, channel: Channel) -> Sent:
        sender = get_sender(channel.type)
        if not isinstance(sender, TokenAuth):
            return await self._once(sender, claimed, config, channel, None)
        token = await self.tokens.get(sender, channel.config)
        if isinstance(token, TokenFailure):
            # The gettoken transport result, so a guard refusal is recorded as blocked.
            return Sent(None, token.transport, token.outcome)
        sent = await self._once(sender, claimed, config, channel, token)
        if sent.outcome.kind is OutcomeKind.TOKEN_EXPIRED:
            await self.tokens.invalidate(sender, channel.config, token)
            got = await self.tokens.get(sender, channel.config)
            if isinstance(got, TokenFailure):
                return Sent(sent.request, got.transport or sent.result, got.outcome)
            sent = await self._once(sender, claimed, config, channel, got)
        return sent

    async def _once(
        self,
        sender: Sender,
        claimed: Claimed,
        config: CallbackConfig,
        channel: Channel,
        token: str | None,
    ) -> Sent:
        request = self._render(sender, claimed, config, channel, token)
        result = await self.http.request(
            request.method, request.url, request.headers, request.body, request.timeout
        )
        if result.status is None:
            kind = OutcomeKind.PERMANENT if result.blocked else OutcomeKind.RETRYABLE
            return Sent(request, result, Outcome(kind, None, result.error or "no answer"))
        outcome = sender.judge(result.status, result.headers, result.body)
        return Sent(request, result, outcome)

    def _render(
        self,
        sender: Sender,
        claimed: Claimed,
        config: CallbackConfig,
        channel: Channel,
        token: str | None,
    ) -> OutboundRequest:
        """The request for `claimed`; senders without a timeout of their own get the operator's
        (`worker.request_timeout`)."""
        now, timeout = self.clock.time(), self.chat_timeout
        if claimed.kind == "digest":
            views = [
                event_view(did, ev, config, channel, self.base_url) for did, ev in claimed.members
            ]
            return sender.render_digest(
                views, channel.config, now=now, access_token=token, default_timeout=timeout
            )
        if claimed.payload is None:
            raise LookupError(f"delivery {claimed.id} has no event to send")
        view = event_view(
            claimed.id,
            claimed.payload,
            config,
            channel,
            self.base_url,
            with_message=sender.renders_message,
            missed_before=claimed.missed_before,
        )
        return sender.render(
            view, channel.config, now=now, access_token=token, default_timeout=timeout
        )

    def _record(
        self, claimed: Claimed, channel: Channel, sent: Sent, started: dt.datetime
    ) -> AttemptRecord:
        secrets = self._secrets(channel)
        outcome, result = sent.outcome, sent.result
        attempt = claimed.attempts + 1
        name = _outcome_name(outcome, result)
        status, next_at = self._next(claimed, channel, outcome, attempt, name)
        return AttemptRecord(
            delivery_id=claimed.id,
            claim_token=claimed.claim_token,
            kind=claimed.kind,
            attempt=attempt,
            trigger=claimed.trigger if claimed.kind != "test" else "test",
            outcome=name,
            status=status,
            next_attempt_at=next_at,
            request=_request_json(sent.request, secrets),
            response_status=result.status if result else None,
            response_body=_text(result.body, RESPONSE_BODY_CAP, secrets)
            if result and result.body
            else None,
            platform_code=outcome.code,
            error=None if name == "delivered" else redact_text(outcome.message, secrets)[:2000],
            latency_ms=result.latency_ms if result else 0.0,
            started_at=started,
            project_id=claimed.project_id,
            task_id=claimed.task_id,
            config_id=claimed.config_id,
            channel_id=claimed.channel_id,
            event_type=claimed.event_type,
            channel_type=claimed.channel_type,
            target_key=claimed.target_key,
            circuit_signal=_circuit_signal(outcome, result, claimed.target_healthy),
            penalty_until=(
                self.clock.time() + min(outcome.retry_after, MAX_RETRY_AFTER)
                if outcome.rate_limited and outcome.retry_after
                else None
            ),
            note=_missed_note(claimed.missed_before),
        )

    def unsendable(self, claimed: Claimed, reason: str) -> AttemptRecord:
        """A delivery that cannot be rendered for a reason the operator can fix (keys): an
        attempt is recorded and retried on the normal schedule, so nothing is lost meanwhile."""
        outcome = Outcome(OutcomeKind.RETRYABLE, None, reason)
        started = self.clock.now()
        attempt = claimed.attempts + 1
        if attempt >= claimed.max_attempts:
            status, next_at = "failed", None
        else:
            delay = RetryPolicy.default(self.chat_timeout).delay_after(min(attempt, 8))
            status, next_at = "pending", started + dt.timedelta(seconds=delay or 60.0)
        return replace(
            orphan_record(claimed, started),
            outcome="retryable",
            status=status,
            next_attempt_at=next_at,
            error=outcome.message,
        )

    def _secrets(self, channel: Channel) -> list[str]:
        """A channel's secrets in clear, for redaction; cached per channel version."""
        key = (channel.id, channel.updated_at)
        found = self._secret_cache.get(key)
        if found is None:
            if len(self._secret_cache) > 4096:
                self._secret_cache.clear()
            found = self._secret_cache[key] = secret_values(channel.config)
        return found

    def _next(
        self, claimed: Claimed, channel: Channel, outcome: Outcome, attempt: int, name: str
    ) -> tuple[str, dt.datetime | None]:
        if name in ("delivered", "partial"):
            return "success", None
        if name in ("permanent", "blocked") or claimed.kind == "test":
            return "failed", None
        if attempt >= claimed.max_attempts:
            return "failed", None
        policy = retry_policy(channel.policy, self.chat_timeout)
        step = min(attempt, policy.max_attempts - 1) if policy.delays else 0
        delay = policy.delay_after(step, outcome.retry_after) if step else outcome.retry_after
        return "pending", self.clock.now() + dt.timedelta(seconds=delay or 0.0)


def _missed_note(missed: tuple[str, ...]) -> str | None:
    if not missed:
        return None
    return f"sent after earlier events of the task failed for good here: {', '.join(missed)}"


def retry_policy(policy: dict[str, Any] | None, chat_timeout: float) -> RetryPolicy:
    if policy and "retries" in policy:
        return RetryPolicy.exponential(
            int(policy["retries"]), float(policy["interval"]), float(policy["timeout"])
        )
    return RetryPolicy.default(chat_timeout)


def _outcome_name(outcome: Outcome, result: HttpResult | None) -> str:
    if result is not None and result.blocked:
        return "blocked"
    if outcome.rate_limited:
        return "rate_limited"
    return {
        OutcomeKind.DELIVERED: "delivered",
        OutcomeKind.PARTIAL: "partial",
        OutcomeKind.PERMANENT: "permanent",
    }.get(outcome.kind, "retryable")


def _circuit_signal(
    outcome: Outcome, result: HttpResult | None, already_healthy: bool
) -> str | None:
    """Transport failures and 5xx make a target look sick; any other answer shows it alive
    (news only when the target was not already known healthy at claim time)."""
    if outcome.rate_limited or (result is not None and result.blocked):
        return None
    if result is None or result.status is None or result.status >= 500:
        return "transient" if outcome.kind is OutcomeKind.RETRYABLE else None
    return None if already_healthy else "success"


def _text(data: bytes, cap: int, secrets: Iterable[str]) -> str:
    text = data[:cap].decode("utf-8", errors="replace")
    if len(data) > cap:
        text += f"…[{len(data) - cap} more bytes]"
    return redact_text(text, secrets)


def _request_json(request: OutboundRequest | None, secrets: list[str]) -> dict[str, Any]:
    if request is None:
        return {}
    return {
        "method": request.method,
        "url": request.redacted_url,
        "headers": dict(request.redacted_headers),
        "body": _text(request.body, REQUEST_BODY_CAP, secrets),
    }


def orphan_record(claimed: Claimed, now: dt.datetime) -> AttemptRecord:
    """The record for a delivery whose config or channel was deleted after it was claimed."""
    return AttemptRecord(
        delivery_id=claimed.id,
        claim_token=claimed.claim_token,
        kind=claimed.kind,
        attempt=claimed.attempts + 1,
        trigger=claimed.trigger,
        outcome="cancelled",
        status="failed",
        next_attempt_at=None,
        request={},
        response_status=None,
        response_body=None,
        platform_code=None,
        error="the callback config or channel no longer exists",
        latency_ms=0.0,
        started_at=now,
        project_id=claimed.project_id,
        task_id=claimed.task_id,
        config_id=claimed.config_id,
        channel_id=claimed.channel_id,
        event_type=claimed.event_type,
        channel_type=claimed.channel_type,
        target_key=claimed.target_key,
    )

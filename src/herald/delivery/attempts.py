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
from herald.channels.capabilities import OwnTransport, TokenAuth
from herald.channels.credentials import secret_values
from herald.channels.registry import get_sender
from herald.delivery.http_client import HttpClient, HttpResult, channel_egress
from herald.delivery.wecom_tokens import TokenFailure, WeComTokens
from herald.domain.delivery import (
    AttemptFacts,
    AttemptOutcome,
    CircuitSignal,
    DeliveryKind,
    Trigger,
    next_state,
)
from herald.domain.retry import MAX_RETRY_AFTER, RetryPolicy
from herald.publishing.config_model import CallbackConfig, Channel
from herald.publishing.event_views import event_view
from herald.runtime.clock import Clock
from herald.security.redaction import redact_text
from herald.store.attempt_record import MAX_CODE
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
        result = await self._deliver(sender, request, channel)
        if result.status is None:
            kind = OutcomeKind.PERMANENT if result.blocked else OutcomeKind.RETRYABLE
            return Sent(request, result, Outcome(kind, None, result.error or "no answer"))
        outcome = sender.judge(result.status, result.headers, result.body)
        return Sent(request, result, outcome)

    async def _deliver(
        self, sender: Sender, request: OutboundRequest, channel: Channel
    ) -> HttpResult:
        """Over HTTP, or through the sender's own transport (`OwnTransport`), behind the same
        egress policy."""
        if not isinstance(sender, OwnTransport):
            return await self.http.request(
                request.method,
                request.url,
                request.headers,
                request.body,
                request.timeout,
                channel_egress(channel.config),
            )
        answer = await sender.transmit(
            request, channel.config, egress=self.http.policy, resolver=self.http.resolver
        )
        return HttpResult(
            answer.status,
            answer.headers,
            answer.body,
            answer.latency_ms,
            answer.error,
            answer.blocked,
        )

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
        if claimed.kind == DeliveryKind.DIGEST:
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
        retry = RetryPolicy.from_json(channel.policy, self.chat_timeout)
        state = next_state(claimed.ref, _facts(outcome, result), self.clock.now(), retry)
        return AttemptRecord(
            delivery_id=claimed.id,
            claim_token=claimed.claim_token,
            kind=claimed.kind,
            attempt=state.attempt,
            trigger=Trigger.TEST if claimed.kind == DeliveryKind.TEST else claimed.trigger,
            outcome=state.outcome,
            status=state.status,
            next_attempt_at=state.next_attempt_at,
            request=_request_json(sent.request, secrets),
            response_status=result.status if result else None,
            response_body=_text(result.body, RESPONSE_BODY_CAP, secrets)
            if result and result.body
            else None,
            # Codes are the platform's words (some run past 32 characters): kept to the width
            # the history stores.
            platform_code=outcome.code[:MAX_CODE] if outcome.code else outcome.code,
            error=None
            if state.outcome == AttemptOutcome.DELIVERED
            else redact_text(outcome.message, secrets)[:2000],
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
        started = self.clock.now()
        # The channel's own retry policy is unreadable too: the default schedule applies.
        state = next_state(claimed.ref, AttemptFacts(AttemptOutcome.RETRYABLE), started)
        return replace(
            orphan_record(claimed, started),
            outcome=state.outcome,
            status=state.status,
            next_attempt_at=state.next_attempt_at,
            error=reason,
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


def _missed_note(missed: tuple[str, ...]) -> str | None:
    if not missed:
        return None
    return f"sent after earlier events of the task failed for good here: {', '.join(missed)}"


# A channel's verdict in the domain's words; a token to refresh is retried like any blip.
_VERDICTS = {
    OutcomeKind.DELIVERED: AttemptOutcome.DELIVERED,
    OutcomeKind.PARTIAL: AttemptOutcome.PARTIAL,
    OutcomeKind.PERMANENT: AttemptOutcome.PERMANENT,
}


def _facts(outcome: Outcome, result: HttpResult | None) -> AttemptFacts:
    return AttemptFacts(
        verdict=_VERDICTS.get(outcome.kind, AttemptOutcome.RETRYABLE),
        blocked=result is not None and result.blocked,
        rate_limited=outcome.rate_limited,
        retry_after=outcome.retry_after,
    )


def _circuit_signal(
    outcome: Outcome, result: HttpResult | None, already_healthy: bool
) -> CircuitSignal | None:
    """Transport failures and 5xx make a target look sick; any other answer shows it alive
    (news only when the target was not already known healthy at claim time)."""
    if outcome.rate_limited or (result is not None and result.blocked):
        return None
    if result is None or result.status is None or result.status >= 500:
        return CircuitSignal.TRANSIENT if outcome.kind is OutcomeKind.RETRYABLE else None
    return None if already_healthy else CircuitSignal.SUCCESS


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
    state = next_state(claimed.ref, AttemptFacts(AttemptOutcome.CANCELLED), now)
    return AttemptRecord(
        delivery_id=claimed.id,
        claim_token=claimed.claim_token,
        kind=claimed.kind,
        attempt=state.attempt,
        trigger=claimed.trigger,
        outcome=state.outcome,
        status=state.status,
        next_attempt_at=state.next_attempt_at,
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

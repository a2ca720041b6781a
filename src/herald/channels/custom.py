"""Custom HTTP endpoints: the PRD §3.3 standard message, signed per Standard Webhooks.

The body is the event payload byte for byte (compact JSON, keys in the documented order,
non-ASCII kept). `webhook-id` is the delivery id, stable across retries, so receivers can
drop duplicates; `webhook-signature` is added when a `whsec_` secret is configured. Any 2xx
is success whatever the body; redirects are never followed (update the URL instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from herald.channels.base import (
    USER_AGENT,
    EventView,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    body_excerpt,
    expect_config,
    json_bytes,
    retry_after,
    trim,
)
from herald.channels.channel_config import ChannelConfig, CustomConfig
from herald.channels.credentials import secret_header_names, shown_headers, shown_url
from herald.security.signing import standard_webhook_headers

RETRYABLE_STATUSES = frozenset({408, 425, 429})


class CustomSender:
    """Sender for the `custom` channel type."""

    channel_type: ClassVar[str] = "custom"
    config_model: ClassVar[type[ChannelConfig]] = CustomConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    supports_digest: ClassVar[bool] = False  # receivers expect one standard message per event
    renders_message: ClassVar[bool] = False
    one_at_a_time: ClassVar[bool] = False  # up to `worker.per_target_concurrency` at once

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # only for Retry-After dates

    def target_identity(self, config: ChannelConfig) -> str:
        return expect_config(config, CustomConfig).url

    def render(
        self,
        event: EventView,
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
    ) -> OutboundRequest:
        endpoint = expect_config(config, CustomConfig)
        body = json_bytes(event.payload)
        signed = standard_webhook_headers(
            endpoint.signing_secret, event.delivery_id, int(now), body
        )
        base = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        headers = merge_headers(base, endpoint.headers, signed)
        return OutboundRequest(
            method=endpoint.method,
            url=endpoint.url,
            headers=headers,
            body=body,
            timeout=float(endpoint.timeout),
            redacted_url=shown_url(endpoint, "url"),
            # Only secret values are masked: the history shows what was sent.
            redacted_headers=shown_headers(headers, secret_header_names(endpoint)),
        )

    def render_digest(
        self,
        events: Sequence[EventView],
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
    ) -> OutboundRequest:
        raise NotImplementedError("custom endpoints receive one standard message per event")

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        code = f"http_{status}"
        if 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, code, f"HTTP {status}")
        detail = f"HTTP {status}: {body_excerpt(body)}"
        if status in RETRYABLE_STATUSES or status >= 500:
            # Not flagged rate_limited: a receiver's 429 governs this delivery's retry through
            # Retry-After; it is not a published quota the engine should pace the target by.
            wait = retry_after(headers, self._clock)
            return Outcome(OutcomeKind.RETRYABLE, code, trim(detail), retry_after=wait)
        if status == 410:
            return Outcome(OutcomeKind.PERMANENT, code, trim(f"endpoint gone ({detail})"))
        if 300 <= status < 400:
            hint = "redirects are not followed; update the URL"
            return Outcome(OutcomeKind.PERMANENT, code, trim(f"{hint} ({detail})"))
        if 400 <= status < 500:
            return Outcome(OutcomeKind.PERMANENT, code, trim(detail))
        # 1xx as a final answer is a broken server or proxy; it may recover.
        return Outcome(OutcomeKind.RETRYABLE, code, trim(detail))


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win; names compare without regard to case, the last spelling is kept."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())

"""What only some channels can do, as protocols the delivery and publishing code test for with
`isinstance` instead of asking for a channel by name.

`TokenAuth` (a sender that sends with an access token it fetches first: WeCom applications),
`OwnRetryPolicy` (settings that carry their own retries and timeout: custom endpoints) and
`OwnTransport` (a sender that delivers over something other than HTTP: SMTP, Apprise).
How many requests one delivery may take is the `Sender.requests_per_delivery` attribute, and
every request carries its own timeout (`OutboundRequest.timeout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aiohttp.abc import AbstractResolver

from herald.channels.base import CHAT_TIMEOUT, OutboundRequest, Outcome
from herald.channels.config_base import ChannelConfig
from herald.security.egress import EgressPolicy


@runtime_checkable
class TokenAuth(Protocol):
    """A sender whose requests need an access token fetched with the channel's credentials.

    The engine caches a token per `token_cache_key` for every worker, passes it to `render` as
    `access_token`, and when `judge` answers `OutcomeKind.TOKEN_EXPIRED` it drops the token,
    fetches a new one and sends once more.
    """

    def token_cache_key(self, config: ChannelConfig) -> str:
        """Which token `config` uses; channels sharing a key share a token (kept in clear only
        in memory: the engine stores a keyed fingerprint of it)."""
        ...

    def token_request(
        self, config: ChannelConfig, *, timeout: float = CHAT_TIMEOUT
    ) -> OutboundRequest:
        """The request that fetches a token for `config`, within `timeout` seconds."""
        ...

    def parse_token(self, status: int, body: bytes) -> tuple[str, float] | Outcome:
        """(token, seconds it stays valid) from the token request's answer, or why there is
        none (an outcome recorded for the delivery as its attempt's outcome)."""
        ...


@runtime_checkable
class OwnRetryPolicy(Protocol):
    """Settings that carry their own retry schedule and request timeout instead of Herald's."""

    def delivery_policy(self) -> dict[str, Any]:
        """What fan-out and workers need without decrypting the settings, stored beside them:
        `retries` (count), `interval` and `timeout` (seconds) and `ordered` (deliver one task's
        events in event order)."""
        ...


@dataclass(frozen=True)
class TransportAnswer:
    """What an `OwnTransport` got back, in the shape `Sender.judge` reads: `status` is the
    protocol's reply code (an SMTP reply such as 250 or 550; 200 for a library that ran to
    the end) and `body` its text; None with `error` when there was no answer (`blocked`: the
    egress guard refused the address, which is never retried)."""

    status: int | None
    body: bytes = b""
    latency_ms: float = 0.0
    error: str | None = None
    blocked: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class OwnTransport(Protocol):
    """A sender that delivers its rendered request itself instead of over HTTP.

    The engine calls `transmit` in place of its HTTP client and judges the answer with the
    sender's `judge`, so rate limits, retries, history and redaction stay the engine's. A
    transport must vet every address it connects to with `egress` (through `resolver` for
    names) and must finish within `request.timeout` seconds.
    """

    async def transmit(
        self,
        request: OutboundRequest,
        config: ChannelConfig,
        *,
        egress: EgressPolicy,
        resolver: AbstractResolver | None = None,
    ) -> TransportAnswer:
        """Send `request` to the target `config` names; never raises for network errors."""
        ...

"""The sender contract every channel implements, and what senders share.

A sender does no I/O: it renders an event into an `OutboundRequest` (with a redacted copy
safe for history) and judges the platform's answer into an `Outcome`. The delivery engine
does the sending, the retries and the bookkeeping. What only some channels can do (token
auth, their own retry policy) is in `herald.channels.capabilities`.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from herald.channels.config_base import ChannelConfig
from herald.domain.events import EventContext, EventPayload
from herald.domain.messages import Message, build_digest_message, longest_text, shorten_text
from herald.domain.text_limits import fit_hosts, largest_fitting

USER_AGENT = "Herald-Webhook/1"  # on every request, so receivers and firewalls can tell Herald
# Seconds per attempt for senders without a timeout of their own, unless the caller passes the
# operator's `worker.request_timeout` (chat platforms answer in well under 1 s).
CHAT_TIMEOUT = 10.0
MAX_RETRY_AFTER = 3600.0  # a receiver cannot park a delivery for longer than this
MAX_LISTED_HOSTS = 50  # beyond this a chat message lists hosts as "…另有 k 台" even if they fit
MAX_LISTED_LINES = 100  # digest lines, likewise
LISTED_AFTER_CUT = 5  # entries a message keeps listing when its text has to be cut
MESSAGE_CAP = 500  # characters of a platform's error text kept in an outcome
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json; charset=utf-8"}


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    PARTIAL = "partial"  # accepted, but some recipients were refused (WeCom invalid users)
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    TOKEN_EXPIRED = "token_expired"  # WeCom: refresh the access token once and resend  # noqa: S105


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended.

    `code` is the platform's code as text ("130101") or "http_<status>", None when there is
    none. `retry_after` is the earliest sensible retry in seconds (Retry-After or a documented
    penalty); `rate_limited` marks answers that mean "too many requests".
    """

    kind: OutcomeKind
    code: str | None
    message: str
    retry_after: float | None = None
    rate_limited: bool = False


@dataclass(frozen=True)
class OutboundRequest:
    """One HTTP request to make, within `timeout` seconds (the engine honours it for every
    request). `url` and `headers` may hold credentials and are never logged or stored;
    `redacted_url` and `redacted_headers` are their history-safe copies."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float
    redacted_url: str
    redacted_headers: Mapping[str, str]


@dataclass(frozen=True)
class EventView:
    """One event as the engine hands it to a sender; `delivery_id` is stable across retries."""

    delivery_id: str
    payload: EventPayload
    context: EventContext
    message: Message


@dataclass(frozen=True)
class RateLimit:
    count: int
    per_seconds: float


class Sender(Protocol):
    """A channel type: renders events for its platform and judges the platform's answers."""

    channel_type: ClassVar[str]
    config_model: ClassVar[type[ChannelConfig]]
    default_rate_limits: ClassVar[tuple[RateLimit, ...]]
    supports_digest: ClassVar[bool]
    renders_message: ClassVar[bool]  # False: the sender never reads `EventView.message`
    one_at_a_time: ClassVar[bool]  # True: one request in flight per target (chat platforms)
    # The most HTTP requests one delivery may take (a token fetch and a resend after a refresh
    # count): a claim's lease lasts this many request timeouts.
    requests_per_delivery: ClassVar[int]

    def target_identity(self, config: ChannelConfig) -> str:
        """The credential-bearing identity of the rate-limited target (fingerprinted by the
        engine, never stored in clear)."""
        ...

    def render(
        self,
        event: EventView,
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        """The request delivering `event`; `now` (Unix seconds) dates signatures.
        `access_token` is for senders with token auth (`capabilities.TokenAuth`) and ignored by
        the others. `default_timeout` is the request's timeout unless the settings carry one."""
        ...

    def render_digest(
        self,
        events: Sequence[EventView],
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        """One request summing up `events` (chat channels only; `supports_digest` says which).
        `access_token` and `default_timeout` as for `render`."""
        ...

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        """Classify the platform's answer, reading the body and not only the status."""
        ...


ConfigT = TypeVar("ConfigT", bound=ChannelConfig)


def expect_config(config: ChannelConfig, model: type[ConfigT]) -> ConfigT:
    """`config` as `model`; TypeError if the engine paired a sender with another type."""
    if not isinstance(config, model):
        raise TypeError(f"expected {model.__name__}, got {type(config).__name__}")
    return config


def digest_message(events: Sequence[EventView]) -> Message:
    """The digest of `events`, in the locale their messages were built in."""
    if not events:
        raise ValueError("a digest needs at least one event")
    messages = [event.message for event in events]
    return build_digest_message(messages, locale=messages[0].locale, total=len(messages))


# -- size limits --------------------------------------------------------------------------------


def fit_message(render: Callable[[Message, int], bytes], message: Message, max_bytes: int) -> bytes:
    """`render(message, n)` with the most list entries n, shortening text only if needed.

    `render(m, n)` must show at most n hosts, failed hosts and digest lines of `m` and count
    the rest. Hosts go first; when listing none still leaves the message too big, every
    free-text value is cut to the longest length (binary search) that leaves room for a few
    entries, and the entries are fitted again. Raises ValueError if nothing fits, which only
    a limit smaller than the fixed parts of a message can cause.
    """
    count = _list_count(message)
    try:
        return fit_hosts(lambda n: render(message, n), count, max_bytes)
    except ValueError:
        pass
    # Cut text so that a few hosts still show: "web-01, web-02, …另有 598 台" tells more than
    # the fifth sentence of a reason. Without room even for that, cut text until it fits.
    cap = None
    for keep in dict.fromkeys((min(count, LISTED_AFTER_CUT), 0)):
        cap = largest_fitting(0, longest_text(message), _fits(render, message, keep, max_bytes))
        if cap is not None:
            break
    if cap is None:
        raise ValueError(f"even an empty message exceeds the {max_bytes}-byte limit")
    short = shorten_text(message, cap)
    return fit_hosts(lambda n: render(short, n), count, max_bytes)


def _fits(
    render: Callable[[Message, int], bytes], message: Message, shown: int, max_bytes: int
) -> Callable[[int], bool]:
    return lambda cap: len(render(shorten_text(message, cap), shown)) <= max_bytes


def _list_count(message: Message) -> int:
    if message.body_override is not None:
        return 0
    if message.lines:
        return min(len(message.lines), MAX_LISTED_LINES)
    return min(max(len(message.hosts), len(message.failed_hosts)), MAX_LISTED_HOSTS)


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is: platform limits count these bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- judging answers ----------------------------------------------------------------------------


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None for empty, non-UTF-8, non-JSON or non-object bodies."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def trim(text: object, limit: int = MESSAGE_CAP) -> str:
    """`text` as a string of at most `limit` characters (with "…" when cut)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, matching the name without regard to case."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date.

    Past dates and negative delays give 0; a missing or unparseable value gives None.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _retry_after_date(text, now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _retry_after_date(text: str, now: float) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read the same way
        return None
    return max(0.0, moment.timestamp() - now)


def retry_after(headers: Mapping[str, str], clock: Callable[[], float] = time.time) -> float | None:
    """The answer's Retry-After in seconds, capped at an hour; None without a usable one."""
    seconds = parse_retry_after(header(headers, "Retry-After"), clock())
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def http_failure(
    status: int, headers: Mapping[str, str], detail: str, clock: Callable[[], float] = time.time
) -> Outcome:
    """The outcome of an answer that carries no usable platform code.

    408, 425, 429 and 5xx are retryable (honouring Retry-After; 429 counts as rate limited);
    a 2xx without the platform's success body and any other status are permanent.
    """
    code = f"http_{status}"
    if status in (408, 425, 429) or status >= 500:
        return Outcome(
            OutcomeKind.RETRYABLE,
            code,
            trim(f"HTTP {status}: {detail}"),
            retry_after=retry_after(headers, clock),
            rate_limited=status == 429,
        )
    if 200 <= status < 300:
        return Outcome(OutcomeKind.PERMANENT, None, trim(detail))
    return Outcome(OutcomeKind.PERMANENT, code, trim(f"HTTP {status}: {detail}"))


def body_excerpt(body: bytes) -> str:
    """A short, printable excerpt of a response body for error messages."""
    if not body:
        return "empty body"
    return trim(body.decode("utf-8", errors="replace"), 200)


class ChatSender(Generic[ConfigT]):
    """What the chat senders share: a message (or a digest of several) turned into one request
    by `_request`, within the caller's `default_timeout`; the destination URL (the pasted
    webhook) identifies the rate-limited target.

    Subclasses set `model` (their config class) and the `Sender` class attributes.
    """

    model: type[ConfigT]
    supports_digest: ClassVar[bool] = True
    renders_message: ClassVar[bool] = True
    # Chat platforms limit per robot or app; requests in parallel would only race each other
    # into the limit and could arrive out of order.
    one_at_a_time: ClassVar[bool] = True
    requests_per_delivery: ClassVar[int] = 1

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # only for Retry-After dates

    def target_identity(self, config: ChannelConfig) -> str:
        settings = expect_config(config, self.model)
        webhook = getattr(settings, settings.destination_field, None)
        if not isinstance(webhook, str):
            raise TypeError(f"{type(self).__name__} must say what identifies its target")
        return webhook

    def render(
        self,
        event: EventView,
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        settings = expect_config(config, self.model)
        return self._request(event.message, settings, now, access_token, default_timeout)

    def render_digest(
        self,
        events: Sequence[EventView],
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        digest = digest_message(events)
        settings = expect_config(config, self.model)
        return self._request(digest, settings, now, access_token, default_timeout)

    def _request(
        self,
        message: Message,
        config: ConfigT,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        raise NotImplementedError

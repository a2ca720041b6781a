"""The long tail: any service Apprise knows (the `apprise` channel type), by its Apprise URL.

The URL (`tgram://bottoken/chat`, `mailto://…`, `ntfy://…`, `json://host/path`, …) carries the
service's credentials, so it is a secret as a whole: stored encrypted, masked in every answer
and in the history (`scheme://****`).

Apprise is synchronous: it runs in a small thread pool, off the event loop, with the request
timeout handed to Apprise and a hard deadline around it; a call still running at the deadline
is abandoned (its thread ends when Apprise's own socket timeouts fire).

Judged by Apprise's own success flag only: Apprise does not say why a service refused a
message, so Herald cannot tell a bad token from an outage. A failure is retried on Herald's
normal schedule (then the delivery fails), a URL Apprise cannot load is permanent, and Apprise
never retries by itself (the URL's own `retry` option is the user's choice).

Egress: a host written as an address (or `localhost`) is vetted when the settings are saved;
at send time a host that resolves is vetted with every address it resolves to. Apprise makes
the connection itself (through `requests`), so the address is not pinned between the check
and the connection, and a redirect a service answers is Apprise's to follow: for internal
receivers use the `custom` channel, which the guard covers fully.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from pydantic import AfterValidator, Field

from herald.channels.base import (
    ChatSender,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    fit_message,
    json_bytes,
    parse_json_object,
)
from herald.channels.capabilities import TransportAnswer
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, Text
from herald.channels.credentials import shown_url
from herald.channels.fields import MAX_URL, field_error, not_masked
from herald.domain.messages import Message, digest_lines, footer, host_sections, text
from herald.security.egress import EgressDenied, EgressPolicy
from herald.security.guarded_http import GuardedResolver, describe_denial
from herald.security.guarded_socket import check_literal_host

if TYPE_CHECKING:
    import apprise

MAX_BODY = 32_000
THREADS = 4  # at most this many Apprise calls at once; a hung service cannot take more
_pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="apprise")
NOTIFY_TYPES = {"red": "failure", "orange": "warning", "green": "success", "turquoise": "success"}


@functools.cache
def _apprise() -> Any:
    """The apprise package, its plugins loaded. Apprise imports `imghdr` (deprecated since
    Python 3.11) when it first loads its plugins: that happens here, with the warning kept out
    of Herald's logs, rather than in the middle of a delivery."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        apprise.Apprise.instantiate("json://localhost", suppress_exceptions=True)
    return apprise


def _plugin(url: str) -> apprise.NotifyBase | None:
    plugin = _apprise().Apprise.instantiate(url, suppress_exceptions=True)
    return plugin if plugin else None


def _loadable(value: str) -> str:
    not_masked(value)
    if _plugin(value) is None:
        raise field_error(
            "apprise_url",
            "Apprise cannot load this URL; check its scheme and parts against the Apprise "
            "wiki (https://github.com/caronc/apprise/wiki)",
        )
    return value


AppriseUrl = Annotated[
    str,
    Field(min_length=4, max_length=MAX_URL),
    AfterValidator(_loadable),
    # The URL holds the service's credentials: the whole URL is the secret.
    DestinationUrl(whole=True, schemes=None, opaque=True),
]


class AppriseConfig(ChannelConfig):
    """One Apprise URL."""

    channel_type: ClassVar[str] = "apprise"
    type_label: ClassVar[Text] = Text("Apprise（其他服务）", "Apprise (other services)")
    destination_field: ClassVar[str] = "url"
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "url": FieldText(
            Text("Apprise 地址", "Apprise URL"),
            help=Text(
                "Apprise 支持的任意服务地址，例如 tgram://机器人令牌/会话ID。",
                "Any service Apprise supports, e.g. tgram://bottoken/chatid.",
            ),
            placeholder="tgram://bottoken/chatid",
        ),
    }

    url: AppriseUrl


class AppriseSender(ChatSender[AppriseConfig]):
    """Sender for the `apprise` channel type (an `OwnTransport`: Apprise makes the request)."""

    channel_type: ClassVar[str] = "apprise"
    config_model: ClassVar[type[ChannelConfig]] = AppriseConfig
    model = AppriseConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(30, 60.0),)

    def _request(
        self,
        message: Message,
        config: AppriseConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        def render(shown: Message, n: int) -> bytes:
            kind = NOTIFY_TYPES.get(shown.color, "info")
            return json_bytes({"title": shown.title, "body": body_text(shown, n), "type": kind})

        return OutboundRequest(
            method="APPRISE",
            url=config.url,
            headers={},
            body=fit_message(render, message, MAX_BODY),
            timeout=timeout,
            redacted_url=shown_url(config, "url"),
            redacted_headers={},
        )

    async def transmit(
        self,
        request: OutboundRequest,
        config: ChannelConfig,
        *,
        egress: EgressPolicy,
        resolver: AbstractResolver | None = None,
    ) -> TransportAnswer:
        started = time.perf_counter()
        try:
            await _vet(request.url, egress, resolver)
        except EgressDenied as exc:
            return TransportAnswer(None, error=str(exc), blocked=True)
        plugin = _plugin(request.url)
        if plugin is None:
            body = {"success": False, "loaded": False}
            return TransportAnswer(200, json_bytes(body), _ms(started))
        note = parse_json_object(request.body) or {}
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(_pool, _notify, plugin, note, request.timeout)
        try:
            async with asyncio.timeout(request.timeout + 1.0):
                success = await call
        except TimeoutError:
            return TransportAnswer(
                None, error=f"Apprise timed out after {request.timeout:g}s", latency_ms=_ms(started)
            )
        return TransportAnswer(200, json_bytes({"success": success}), _ms(started))

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body) or {}
        if reply.get("loaded") is False:
            return Outcome(OutcomeKind.PERMANENT, "not_loaded", "Apprise cannot load the URL")
        if reply.get("success") is True:
            return Outcome(OutcomeKind.DELIVERED, "ok", "Apprise reported success")
        return Outcome(
            OutcomeKind.RETRYABLE,
            "failed",
            "Apprise reported failure (it does not say why; check the service and the URL)",
        )


def _notify(plugin: apprise.NotifyBase, note: dict[str, Any], seconds: float) -> bool:
    """One Apprise call (in a pool thread), its sockets bounded by `seconds`."""
    plugin.socket_connect_timeout = seconds
    plugin.socket_read_timeout = seconds
    library = _apprise()
    notifier = library.Apprise()
    notifier.add(plugin)
    result = notifier.notify(
        body=str(note.get("body") or ""),
        title=str(note.get("title") or ""),
        notify_type=str(note.get("type") or "info"),
        body_format=library.NotifyFormat.TEXT,
    )
    return bool(result)


async def _vet(url: str, egress: EgressPolicy, resolver: AbstractResolver | None) -> None:
    """Refuse a URL whose host is, or resolves to, an address `egress` denies."""
    check_literal_host(url, egress)
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return
    if not host or not _looks_like_a_name(host):
        return
    guarded = GuardedResolver(egress, resolver)
    try:
        await guarded.resolve(host, 0, socket.AF_UNSPEC)
    except OSError as exc:  # a name that does not resolve is a token, not a host
        denial = describe_denial(exc)
        if denial:
            raise EgressDenied(denial) from None
    finally:
        await guarded.close()


def _looks_like_a_name(host: str) -> bool:
    return "." in host and all(part.replace("-", "").isalnum() for part in host.split("."))


def body_text(message: Message, shown: int) -> str:
    """The notification's text: fields (or a digest's lines, or a template's body), hosts,
    the link and the time, one per line."""
    if message.body_override is not None:
        lines = [message.body_override]
    elif message.lines:
        lines = digest_lines(message, shown)
    else:
        lines = [f"{label}: {value}" for label, value in message.fields]
        lines += [f"{label}: {listing}" for label, listing in host_sections(message, shown)]
    if message.link:
        lines.append(f"{text(message.locale, 'open')}: {message.link}")
    lines.append(footer(message))
    return "\n".join(lines)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000

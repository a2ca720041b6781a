"""Email over SMTP (the `email` channel type): a text and an HTML part, to several recipients.

The server is a URL: `smtps://host:465` for implicit TLS, `smtp://host:587` for STARTTLS
(required unless `require_starttls` is off, for a relay on a trusted network). The password
is a secret. Every mail carries From, To, Subject, Date, a Message-ID derived from the
delivery id (the same across retries, so a client can spot a resend) and
`Auto-Submitted: auto-generated` (RFC 3834: no auto-replies).

The answer is judged by SMTP reply code: 2xx delivered (partial when some recipients were
refused), 4xx retried (421/450/451/452 with throttling words count as rate limited), 5xx
permanent (535 bad credentials, 550 unknown mailbox, 552 too big, 530 TLS required). A
connection that fails or times out is retried.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from aiohttp.abc import AbstractResolver
from pydantic import AfterValidator, BeforeValidator, Field

from herald.channels.base import (
    CHAT_TIMEOUT,
    EventView,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    digest_message,
    expect_config,
    fit_message,
    parse_json_object,
    trim,
)
from herald.channels.capabilities import TransportAnswer
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, Text
from herald.channels.fields import MAX_URL, Secret, empty_is_none, field_error, not_masked
from herald.channels.mail_render import html_text, plain_text
from herald.channels.smtp_transport import Envelope, send_mail
from herald.domain.messages import Message
from herald.security.egress import EgressPolicy
from herald.security.redaction import mask_url_credentials

MAX_MAIL = 512_000  # bytes of the whole MIME message; far below any server's SIZE limit
MAX_RECIPIENTS = 50
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
THROTTLE_WAIT = 60.0
_ADDRESS = re.compile(r"[^@\s<>\",;:()\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_THROTTLE_WORDS = ("rate", "too many", "throttl", "limit")

PERMANENT_HINTS: Mapping[int, str] = {
    530: "the server requires TLS or authentication: use STARTTLS or smtps://, set username",
    534: "the server refused this login method (e.g. needs an app password)",
    535: "the server refused the username or password",
    550: "a recipient mailbox does not exist or the server refused the sender",
    551: "a recipient is not local to this server",
    552: "the mail is larger than the server accepts",
    553: "a mailbox name is not allowed (check from_address and to)",
    554: "the server refused the mail (policy or spam filter)",
}


def _server(value: str) -> str:
    """An smtp:// or smtps:// URL with a host, the default port added when none is given."""
    hint = "server must be smtps://host[:465] (implicit TLS) or smtp://host[:587] (STARTTLS)"
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise field_error("smtp_url", f"{hint}; it contains spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise field_error("smtp_url", hint) from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise field_error("smtp_url", hint)
    if parts.username or parts.password:
        raise field_error("smtp_url", "put the login in username and password, not in the URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise field_error("smtp_url", f"{hint}; nothing may follow the port")
    netloc = parts.netloc if port else f"{parts.netloc}:{DEFAULT_PORTS[parts.scheme]}"
    return not_masked(urlunsplit((parts.scheme, netloc, "", "", "")))


def _display_name(value: str | None) -> str | None:
    if value is not None and any(ord(ch) < 32 for ch in value):
        raise field_error("display_name", "from_name must not contain line breaks")
    return value


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise field_error("email_address", f"{value!r} is not an email address (name@example.com)")
    return value


EmailAddress = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_address)]
SmtpUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    AfterValidator(_server),
    DestinationUrl(schemes=("smtp", "smtps")),
]


class EmailConfig(ChannelConfig):
    """An SMTP server, the sender and the recipients."""

    channel_type: ClassVar[str] = "email"
    type_label: ClassVar[Text] = Text("邮件", "Email")
    destination_field: ClassVar[str] = "server"
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "server": FieldText(
            Text("SMTP 服务器", "SMTP server"),
            help=Text(
                "smtps://主机:465 为隐式 TLS，smtp://主机:587 为 STARTTLS。",
                "smtps://host:465 for implicit TLS, smtp://host:587 for STARTTLS.",
            ),
            placeholder="smtps://smtp.example.com:465",
        ),
        "from_address": FieldText(
            Text("发件人地址", "From address"), placeholder="herald@example.com"
        ),
        "from_name": FieldText(Text("发件人名称", "From name"), placeholder="Herald"),
        "to": FieldText(
            Text("收件人", "Recipients"), placeholder="ops@example.com, sre@example.com"
        ),
        "username": FieldText(Text("用户名", "Username")),
        "password": FieldText(Text("密码", "Password")),
        "require_starttls": FieldText(
            Text("要求 STARTTLS", "Require STARTTLS"),
            help=Text(
                "仅对 smtp:// 有效；关闭后服务器不支持时以明文发送。",
                "smtp:// only; when off, mail goes unencrypted to a server without STARTTLS.",
            ),
        ),
        "ca_certificate": FieldText(
            Text("CA 证书（PEM）", "CA certificate (PEM)"),
            help=Text(
                "服务器证书由私有 CA 签发时填写。",
                "Only when the server's certificate comes from a private CA.",
            ),
        ),
    }

    server: SmtpUrl
    from_address: EmailAddress
    from_name: Annotated[
        str | None,
        Field(max_length=100),
        BeforeValidator(empty_is_none),
        AfterValidator(_display_name),
    ] = None
    to: Annotated[list[EmailAddress], Field(min_length=1, max_length=MAX_RECIPIENTS)]
    username: Annotated[str | None, Field(max_length=256), BeforeValidator(empty_is_none)] = None
    password: Secret = None
    require_starttls: bool = True
    ca_certificate: Annotated[
        str | None, Field(max_length=16_384), BeforeValidator(empty_is_none)
    ] = None


class EmailSender:
    """Sender for the `email` channel type (an `OwnTransport`: it speaks SMTP itself)."""

    channel_type: ClassVar[str] = "email"
    config_model: ClassVar[type[ChannelConfig]] = EmailConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(30, 60.0),)
    supports_digest: ClassVar[bool] = True
    renders_message: ClassVar[bool] = True
    one_at_a_time: ClassVar[bool] = True
    requests_per_delivery: ClassVar[int] = 1

    def target_identity(self, config: ChannelConfig) -> str:
        settings = expect_config(config, EmailConfig)
        return f"{settings.server}|{settings.username or ''}"

    def render(
        self,
        event: EventView,
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        settings = expect_config(config, EmailConfig)
        return _request(event.message, settings, now, event.delivery_id, default_timeout)

    def render_digest(
        self,
        events: Sequence[EventView],
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        settings = expect_config(config, EmailConfig)
        message_id = f"{events[0].delivery_id}-digest{len(events)}"
        return _request(digest_message(events), settings, now, message_id, default_timeout)

    async def transmit(
        self,
        request: OutboundRequest,
        config: ChannelConfig,
        *,
        egress: EgressPolicy,
        resolver: AbstractResolver | None = None,
    ) -> TransportAnswer:
        settings = expect_config(config, EmailConfig)
        envelope = Envelope(
            server=settings.server,
            sender=settings.from_address,
            recipients=settings.to,
            username=settings.username,
            password=settings.password,
            require_starttls=settings.require_starttls,
            ca_certificate=settings.ca_certificate,
        )
        return await send_mail(envelope, request.body, request.timeout, egress, resolver)

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body) or {}
        text = trim(str(reply.get("message") or ""))
        refused: dict[str, Any] = reply.get("refused") or {}
        code = str(status)
        if 200 <= status < 300:
            if refused:
                listed = ", ".join(f"{a} ({v[0]})" for a, v in refused.items())
                return Outcome(OutcomeKind.PARTIAL, code, trim(f"refused recipients: {listed}"))
            return Outcome(OutcomeKind.DELIVERED, code, text or "accepted")
        detail = f"SMTP {status}: {text}" if text else f"SMTP {status}"
        if 400 <= status < 500:
            limited = any(word in text.lower() for word in _THROTTLE_WORDS)
            wait = THROTTLE_WAIT if limited else None
            return Outcome(OutcomeKind.RETRYABLE, code, trim(detail), wait, rate_limited=limited)
        hint = PERMANENT_HINTS.get(status)
        return Outcome(OutcomeKind.PERMANENT, code, trim(f"{detail} — {hint}" if hint else detail))


def _request(
    message: Message, config: EmailConfig, now: float, message_id: str, timeout: float
) -> OutboundRequest:
    body = fit_message(
        lambda m, n: mime(m, n, config, now, message_id).as_bytes(), message, MAX_MAIL
    )
    shown_from = f"{config.from_name} <{config.from_address}>" if config.from_name else None
    headers = {
        "From": shown_from or config.from_address,
        "To": ", ".join(config.to),
        "Subject": _subject(message),
    }
    return OutboundRequest(
        method="SMTP",
        url=config.server,
        headers=headers,
        body=body,
        timeout=timeout,
        redacted_url=mask_url_credentials(config.server),
        redacted_headers=headers,
    )


def mime(
    message: Message, shown: int, config: EmailConfig, now: float, message_id: str
) -> EmailMessage:
    """The mail: headers, then multipart/alternative with the text and the HTML part."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = _from(config)
    mail["To"] = ", ".join(config.to)
    mail["Subject"] = _subject(message)
    mail["Date"] = email.utils.formatdate(now, usegmt=True)
    domain = config.from_address.rsplit("@", 1)[1]
    mail["Message-ID"] = f"<{message_id}.herald@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Herald-Event"] = message.event_type
    mail.set_content(plain_text(message, shown), cte="quoted-printable")
    mail.add_alternative(html_text(message, shown), subtype="html", cte="quoted-printable")
    # A fixed boundary keeps a retry's bytes identical (and the golden files stable).
    mail.set_boundary(f"herald-{message_id}")
    return mail


def _subject(message: Message) -> str:
    # A template may put line breaks in a title; a header must not have any.
    return " ".join(message.title.split())


def _from(config: EmailConfig) -> str:
    return email.utils.formataddr((config.from_name or "", config.from_address))

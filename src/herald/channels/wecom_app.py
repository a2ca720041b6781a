"""WeCom application messages (the PRD's `wechat` type): markdown sent with an access token.

Contract notes: platforms.md §3.1 and §3.3. Senders do no I/O, so the token round trip is
split (the `capabilities.TokenAuth` protocol): `token_request` builds the gettoken call,
`parse_token` reads its answer, and `render` takes the token as a keyword. `judge` answers TOKEN_EXPIRED for 40014/42001/41001 so the engine
refreshes once and resends. Content stays within 2048 UTF-8 bytes. Classification uses
`errcode` only: `errmsg` wording varies and embeds request ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from herald.channels.base import (
    CHAT_TIMEOUT,
    JSON_HEADERS,
    ChatSender,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    body_excerpt,
    expect_config,
    fit_message,
    http_failure,
    json_bytes,
    parse_json_object,
    retry_after,
    trim,
)
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, Text
from herald.channels.fields import (
    MAX_ID,
    MAX_URL,
    RequiredSecret,
    empty_is_none,
    field_error,
    http_url,
)
from herald.domain.messages import Message, digest_lines, footer, host_sections, text, tone
from herald.security.redaction import mask_url_credentials

MAX_CONTENT = 2048
DEFAULT_TOKEN_TTL = 7200.0
FREQUENCY_PENALTY = 60.0  # 45009: minute-level violations block the caller for 60 s
TOKEN_CODES = frozenset({40014, 42001, 41001})
RETRYABLE_CODES = frozenset({-1, 45009, 45033})

PERMANENT_HINTS: Mapping[int, str] = {
    40001: "secret is wrong: use the Secret of this app (应用管理 → the app → Secret)",
    40003: "to_user names a user id that does not exist",
    40008: "WeCom does not accept this message type",
    40013: "corp_id is wrong: use the 企业ID from 我的企业 → 企业信息",
    40035: "WeCom rejected a parameter of the message",
    40056: "agent_id does not belong to the app of this secret",
    40058: "the message is too long or has an invalid parameter",
    41002: "corp_id is missing",
    41004: "secret is missing",
    44004: "the message content is empty",
    45002: "the message content is too large",
    48002: "the app is not allowed to send messages (API 未授权)",
    60020: "this server's IP address is not in the app's trusted IPs (企业可信IP)",
    81013: "none of to_user, to_party or to_tag is valid or visible to the app",
    82001: "to_user, to_party and to_tag are all empty",
}

# <font> colours WeCom markdown supports, by the message's tone: info is green, warning
# orange, comment grey. Derived from the event's colour, so every event type has one.
FONT_COLORS: Mapping[str, str] = {"good": "info", "warning": "warning", "neutral": "comment"}


def _strict_int(value: Any) -> Any:
    # The PRD types agent_id as int64; "1000002" in JSON is most likely a form bug, not intent.
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(
            "int_type",
            "agent_id must be an integer: the AgentId shown on the app's page in the WeCom "
            "admin console, e.g. 1000002",
        )
    return value


def _recipients(limit: int, what: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        ids = [part for part in (value or "").split("|") if part]
        if len(ids) > limit:
            raise field_error(
                "recipients", f"at most {limit} {what} separated by |, got {len(ids)}"
            )
        if any(len(part) > MAX_ID or part != part.strip() for part in ids):
            raise field_error("recipients", f"each of the {what} must be 1-{MAX_ID} characters")
        return value

    return AfterValidator(check)


def _api_base(value: str) -> str:
    parts = urlsplit(value)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise field_error(
            "api_base", "api_base must be scheme://host[:port][/prefix] without a query or fragment"
        )
    return value.rstrip("/")


Recipients = Annotated[
    Annotated[str, Field(max_length=14_000)] | None, BeforeValidator(empty_is_none)
]
CorpId = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
AgentId = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=2**63 - 1)]
ToUser = Annotated[str, Field(max_length=70_000), _recipients(1000, "users")]
ToParty = Annotated[Recipients, _recipients(100, "parties")]
ToTag = Annotated[Recipients, _recipients(100, "tags")]
ApiBase = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://qyapi.weixin.qq.com"),
    AfterValidator(_api_base),
    DestinationUrl(),
]


class WeChatConfig(ChannelConfig):
    """The PRD's `wechat` type: a WeCom self-built application (corp id, agent id, secret)."""

    channel_type: ClassVar[str] = "wechat"
    type_label: ClassVar[Text] = Text("企业微信应用", "WeCom app")
    destination_field: ClassVar[str] = "api_base"
    usual_hosts: ClassVar[tuple[str, ...]] = ("qyapi.weixin.qq.com",)
    target_description: ClassVar[str | None] = "{api_base} agent {agent_id}"
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "corp_id": FieldText(Text("企业 ID（corp_id）", "Corp ID"), placeholder="ww…"),
        "agent_id": FieldText(Text("应用 AgentId", "AgentId"), placeholder="1000002"),
        "secret": FieldText(Text("应用 Secret", "App secret")),
        # Emptied, to_user means "no users" (parties or tags only), not the default @all.
        "to_user": FieldText(Text("接收成员（to_user）", "To users (to_user)"), send_empty=True),
        "to_party": FieldText(Text("接收部门（to_party）", "To departments (to_party)")),
        "to_tag": FieldText(Text("接收标签（to_tag）", "To tags (to_tag)")),
        "api_base": FieldText(Text("API 地址", "API base")),
    }

    corp_id: CorpId
    agent_id: AgentId
    secret: RequiredSecret
    to_user: ToUser = "@all"
    to_party: ToParty = None
    to_tag: ToTag = None
    api_base: ApiBase = "https://qyapi.weixin.qq.com"

    @model_validator(mode="after")
    def _has_recipient(self) -> WeChatConfig:
        if not (self.to_user or self.to_party or self.to_tag):
            raise ValueError("at least one of to_user, to_party or to_tag must name a recipient")
        return self


class WeComAppSender(ChatSender[WeChatConfig]):
    """Sender for the `wechat` channel type (WeCom application message API)."""

    channel_type: ClassVar[str] = "wechat"
    config_model: ClassVar[type[ChannelConfig]] = WeChatConfig
    model = WeChatConfig
    # Each member takes at most 30 messages a minute from an app and WeCom silently drops
    # the rest, so the app as a whole is held to that pace.
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(30, 60.0),)
    requests_per_delivery: ClassVar[int] = 3  # gettoken, send, send again after a refresh

    def target_identity(self, config: ChannelConfig) -> str:
        app = expect_config(config, WeChatConfig)
        return f"{app.api_base}\n{app.corp_id}\n{app.agent_id}\n{app.secret}"

    def token_cache_key(self, config: ChannelConfig) -> str:
        """Tokens belong to an app secret, so every channel of one app shares one token."""
        app = expect_config(config, WeChatConfig)
        return f"{app.api_base}\n{app.corp_id}\n{app.secret}"

    def token_request(
        self, config: ChannelConfig, *, timeout: float = CHAT_TIMEOUT
    ) -> OutboundRequest:
        """GET {api_base}/cgi-bin/gettoken?corpid=…&corpsecret=… (the secret is redacted)."""
        app = expect_config(config, WeChatConfig)
        query = urlencode({"corpid": app.corp_id, "corpsecret": app.secret})
        url = f"{app.api_base}/cgi-bin/gettoken?{query}"
        return OutboundRequest(
            method="GET",
            url=url,
            headers={},
            body=b"",
            timeout=timeout,
            redacted_url=mask_url_credentials(url),
            redacted_headers={},
        )

    def parse_token(self, status: int, body: bytes) -> tuple[str, float] | Outcome:
        """(access_token, expires_in seconds) from a gettoken answer, or why there is none."""
        reply = parse_json_object(body)
        if reply is None or ("errcode" not in reply and "access_token" not in reply):
            return http_failure(status, {}, f"not a WeCom gettoken answer ({body_excerpt(body)})")
        code = _errcode(reply)
        token = reply.get("access_token")
        if code == 0 and isinstance(token, str) and token and 200 <= status < 300:
            return token, _positive(reply.get("expires_in")) or DEFAULT_TOKEN_TTL
        if code == 0:
            return Outcome(OutcomeKind.RETRYABLE, "0", "gettoken answered without a token")
        return classify(code, reply, status, {}, self._clock)

    def _request(
        self,
        message: Message,
        app: WeChatConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        if not access_token:
            raise ValueError("a wechat message needs an access token: call token_request first")
        content = fit_message(lambda m, n: wecom_markdown(m, n).encode(), message, MAX_CONTENT)
        url = f"{app.api_base}/cgi-bin/message/send?access_token={quote(access_token, safe='')}"
        return OutboundRequest(
            method="POST",
            url=url,
            headers=JSON_HEADERS,
            body=json_bytes(build_body(app, content.decode())),
            timeout=timeout,
            redacted_url=mask_url_credentials(url),
            redacted_headers=JSON_HEADERS,
        )

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body)
        if reply is None or "errcode" not in reply:
            detail = f"not a WeCom answer ({body_excerpt(body)})"
            return http_failure(status, headers, detail, self._clock)
        code = _errcode(reply)
        if code == 0 and 200 <= status < 300:
            return _delivered(reply)
        if code in TOKEN_CODES:
            return Outcome(OutcomeKind.TOKEN_EXPIRED, str(code), trim(reply.get("errmsg", "")))
        return classify(code, reply, status, headers, self._clock)


def build_body(app: WeChatConfig, content: str) -> dict[str, Any]:
    """The message/send body; empty recipient kinds are left out."""
    recipients = {"touser": app.to_user, "toparty": app.to_party, "totag": app.to_tag}
    body: dict[str, Any] = {key: value for key, value in recipients.items() if value}
    body.update({"msgtype": "markdown", "agentid": app.agent_id, "markdown": {"content": content}})
    return body


def _delivered(reply: Mapping[str, Any]) -> Outcome:
    refused = {
        name: reply[name]
        for name in ("invaliduser", "invalidparty", "invalidtag", "unlicenseduser")
        if isinstance(reply.get(name), str) and reply[name]
    }
    if not refused:
        return Outcome(OutcomeKind.DELIVERED, "0", trim(reply.get("errmsg") or "ok"))
    listed = "; ".join(f"{name}={ids}" for name, ids in refused.items())
    return Outcome(OutcomeKind.PARTIAL, "0", trim(f"delivered, but WeCom refused: {listed}"))


def classify(
    code: int | None,
    reply: Mapping[str, Any],
    status: int,
    headers: Mapping[str, str],
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """The outcome of a non-zero WeCom errcode (shared by the app and group-robot senders)."""
    label = str(reply.get("errcode"))
    msg = trim(reply.get("errmsg") or "")
    if code in RETRYABLE_CODES:
        limited = code == 45009
        wait = retry_after(headers, clock) or (FREQUENCY_PENALTY if limited else None)
        return Outcome(OutcomeKind.RETRYABLE, label, msg, retry_after=wait, rate_limited=limited)
    if code is not None and code in PERMANENT_HINTS:
        return Outcome(OutcomeKind.PERMANENT, label, f"{PERMANENT_HINTS[code]} ({msg})")
    if status >= 500 or status in (408, 429):
        wait = retry_after(headers, clock)
        return Outcome(OutcomeKind.RETRYABLE, label, msg or f"HTTP {status}", retry_after=wait)
    return Outcome(OutcomeKind.PERMANENT, label, msg or f"WeCom answered errcode {label}")


def _errcode(reply: Mapping[str, Any]) -> int | None:
    raw = reply.get("errcode", 0)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _positive(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def wecom_markdown(message: Message, shown: int) -> str:
    """PRD §4.4: "## 发布通知：…" then ">项目: …" quote lines, hosts, the link and the time;
    the status is coloured by the event. A template's body replaces all of it."""
    if message.body_override is not None:
        return message.body_override
    if message.lines:
        rows = [f">{line}" for line in digest_lines(message, shown)]
    else:
        status_label = text(message.locale, "status")
        font = FONT_COLORS[tone(message.color)]
        rows = [
            f">{label}: "
            + (f'<font color="{font}">{value}</font>' if label == status_label else value)
            for label, value in message.fields
        ]
        rows += [f">{label}: {listing}" for label, listing in host_sections(message, shown)]
    lines = [f"## {message.title}", "", *rows]
    if message.link:
        lines += ["", f"[{text(message.locale, 'open')}]({message.link})"]
    lines.append(f'<font color="comment">{footer(message)}</font>')
    return "\n".join(lines)

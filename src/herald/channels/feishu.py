"""Feishu / Lark custom bot: an interactive card (JSON 1.0), signed in the body.

Contract notes: platforms.md §1. The card header carries the title and the event's colour; a
`lark_md` block lists the fields, then hosts, failed hosts, a button to the task and a note
with the time. Bodies stay within 20,000 bytes. Success is `code == 0`, or `StatusCode == 0`
for the legacy answer without `code`; business errors arrive with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field

from herald.channels.base import (
    JSON_HEADERS,
    ChatSender,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    body_excerpt,
    fit_message,
    http_failure,
    json_bytes,
    parse_json_object,
    retry_after,
    trim,
)
from herald.channels.config_base import (
    ChannelConfig,
    DestinationUrl,
    FieldText,
    PathHint,
    Text,
)
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import MAX_URL, MentionId, Secret, http_url, mentions
from herald.channels.mention_rules import (
    MentionRule,
    Mentions,
    kinds,
    mention_rules,
    mentions_for,
    merged,
)
from herald.domain.messages import Message, digest_lines, footer, host_sections, text
from herald.security.redaction import mask_url_credentials
from herald.security.signing import feishu_sign

MAX_BODY = 20_000  # the documented cap is "20 KB"; 20,000 bytes is safe under either reading
RATE_LIMIT_WAIT = 5.0  # no documented penalty; the per-second window clears well within this

# Codes that no retry can fix, with what the user should do about each.
PERMANENT_HINTS: Mapping[int, str] = {
    9499: "Feishu could not parse the message (malformed or over 20 KB)",
    19001: "the webhook token is invalid or the bot was removed; copy the bot's webhook URL again",
    19002: "Feishu did not accept the message type",
    19007: "the bot is disabled; enable it in the group's bot settings",
    19021: (
        "signature check failed: sign_secret must be the bot's 签名校验 secret, and this "
        "server's clock must be within an hour of real time"
    ),
    19022: "Feishu refused this server's IP address; add it to the bot's IP whitelist",
    19024: (
        "the message contains none of the bot's custom keywords; add a keyword Herald's "
        "messages contain, such as 发布 or Herald"
    ),
}
RATE_LIMIT_CODES = frozenset({11232, 99991400})

FeishuUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://open.feishu.cn/open-apis/bot/v2/hook/…"),
    # Whoever has a bot's webhook URL can post to its group: the whole URL is the credential.
    DestinationUrl(whole=True),
]


class FeishuConfig(HttpChannelConfig):
    """A Feishu / Lark custom bot: its webhook URL and, with 签名校验 on, its signing secret."""

    channel_type: ClassVar[str] = "feishu"
    type_label: ClassVar[Text] = Text("飞书", "Feishu")
    destination_field: ClassVar[str] = "webhook_url"
    usual_hosts: ClassVar[tuple[str, ...]] = ("open.feishu.cn", "open.larksuite.com")
    path_hint: ClassVar[PathHint | None] = PathHint(
        "/open-apis/bot/v2/hook/", "a bot webhook (…/open-apis/bot/v2/hook/<token>)"
    )
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "webhook_url": FieldText(
            Text("Webhook 地址", "Webhook URL"),
            placeholder="https://open.feishu.cn/open-apis/bot/v2/hook/…",
        ),
        "sign_secret": FieldText(Text("签名密钥", "Signing secret")),
        "mention_all": FieldText(Text("@所有人", "@all")),
        "mention_open_ids": FieldText(
            Text("@成员（open_id）", "Mention members (open_id)"), placeholder="ou_…"
        ),
        "mentions": FieldText(
            Text("按事件提及", "Mentions by event"),
            help=Text(
                "只在所选事件上 @：users 为 open_id 或 user_id，all 为 @所有人。"
                '例：[{"events": ["task_failed"], "users": ["ou_xxx"]}]。上面两项对每个事件都生效。',
                "Mention only on the chosen events: users are open_ids or user_ids, all is "
                '@all. Example: [{"events": ["task_failed"], "users": ["ou_xxx"]}]. The two '
                "fields above apply to every event.",
            ),
        ),
    }

    webhook_url: FeishuUrl
    sign_secret: Secret = None
    mention_all: bool = False
    mention_open_ids: list[MentionId] = mentions()
    mentions: Annotated[
        list[MentionRule], kinds({"users": "open_ids or user_ids", "all": "@all"})
    ] = mention_rules()


class FeishuSender(ChatSender[FeishuConfig]):
    """Sender for the `feishu` channel type."""

    channel_type: ClassVar[str] = "feishu"
    config_model: ClassVar[type[ChannelConfig]] = FeishuConfig
    model = FeishuConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        RateLimit(5, 1.0),
        RateLimit(100, 60.0),
    )

    def _request(
        self,
        message: Message,
        config: FeishuConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        envelope: dict[str, Any] = {}
        if config.sign_secret:
            timestamp = int(now)
            # The official example sends the timestamp as a string; the fake accepts both.
            envelope = {
                "timestamp": str(timestamp),
                "sign": feishu_sign(config.sign_secret, timestamp),
            }

        def render(shown: Message, n: int) -> bytes:
            card = build_card(shown, n, config)
            return json_bytes({**envelope, "msg_type": "interactive", "card": card})

        return OutboundRequest(
            method="POST",
            url=config.webhook_url,
            headers=JSON_HEADERS,
            body=fit_message(render, message, MAX_BODY),
            timeout=timeout,
            redacted_url=mask_url_credentials(config.webhook_url),
            redacted_headers=JSON_HEADERS,
        )

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body)
        if reply is None or ("code" not in reply and "StatusCode" not in reply):
            detail = f"not a Feishu bot answer ({body_excerpt(body)})"
            return http_failure(status, headers, detail, self._clock)
        # `code` decides when present: error bodies may carry a misleading StatusCode 0.
        raw = reply["code"] if "code" in reply else reply["StatusCode"]
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        msg = trim(reply.get("msg") or reply.get("StatusMessage") or "")
        if code == 0 and 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, "0", msg or "success")
        return self._failure(code, raw, msg, status, headers)

    def _failure(
        self, code: int | None, raw: Any, msg: str, status: int, headers: Mapping[str, str]
    ) -> Outcome:
        label = str(raw)
        if code in RATE_LIMIT_CODES or (code == 9499 and _throttled(msg)):
            wait = retry_after(headers, self._clock) or RATE_LIMIT_WAIT
            return Outcome(OutcomeKind.RETRYABLE, label, msg, retry_after=wait, rate_limited=True)
        if code is not None and code in PERMANENT_HINTS:
            return Outcome(OutcomeKind.PERMANENT, label, f"{msg} — {PERMANENT_HINTS[code]}")
        if status >= 500 or status in (408, 429):
            later = retry_after(headers, self._clock)
            return Outcome(OutcomeKind.RETRYABLE, label, msg or f"HTTP {status}", retry_after=later)
        return Outcome(OutcomeKind.PERMANENT, label, msg or f"Feishu answered code {label}")


def _throttled(msg: str) -> bool:
    # 9499 is overloaded: "Bad Request" is ours to fix, "too many request" is a rate limit.
    lowered = msg.lower()
    return "too many" in lowered or "frequency" in lowered


def build_card(message: Message, shown: int, config: FeishuConfig) -> dict[str, Any]:
    """The card 1.0 object for `message`, listing at most `shown` of each host list."""
    elements: list[dict[str, Any]] = [_markdown(_main_text(message, shown, config))]
    if message.body_override is None and not message.lines:
        for label, listing in host_sections(message, shown):
            elements.append(_markdown(f"**{label}**: {escape(listing)}"))
    if message.link:
        elements.append(_button(text(message.locale, "open"), message.link))
    elements.append({"tag": "note", "elements": [_plain(footer(message))]})
    return {
        "config": {"wide_screen_mode": True, "enable_forward": True},
        "header": {"title": _plain(message.title), "template": message.color},
        "elements": elements,
    }


def _main_text(message: Message, shown: int, config: FeishuConfig) -> str:
    if message.body_override is not None:
        body = message.body_override
    elif message.lines:
        body = "\n".join(escape(line) for line in digest_lines(message, shown))
    else:
        body = "\n".join(f"**{label}**: {escape(value)}" for label, value in message.fields)
    mentions = _mentions(config, message.event_type)
    return f"{body}\n{mentions}" if mentions else body


def _mentions(config: FeishuConfig, event_type: str) -> str:
    """Card markdown mentions (`<at id=…></at>`; a text message would write
    `<at user_id="…">`): the fields for every event plus the rules naming `event_type`."""
    always = Mentions(users=tuple(config.mention_open_ids), all=config.mention_all)
    who = merged(always, mentions_for(config.mentions, event_type))
    ids = (["all"] if who.all else []) + list(who.users)
    return " ".join(f"<at id={open_id}></at>" for open_id in ids)


def escape(value: str) -> str:
    """Neutralise markup in data shown in `lark_md`: a project or host name must not be able
    to mention everyone (`<at id=all>`) or inject tags."""
    return value.replace("<", "&lt;").replace(">", "&gt;")


def _plain(content: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": content}


def _markdown(content: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": content}}


def _button(label: str, url: str) -> dict[str, Any]:
    button = {"tag": "button", "text": _plain(label), "type": "primary", "url": url}
    return {"tag": "action", "actions": [button]}

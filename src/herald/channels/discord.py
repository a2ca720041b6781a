"""Discord webhook: one embed per message, posted with `?wait=true`.

Contract notes: platforms.md §5. The webhook URL (its token) is the only credential. With
`wait=true` Discord answers 200 and the created message, so a delivery is confirmed rather
than merely queued (204 is accepted too). Errors are 4xx with `{"message", "code"}`; 429
carries `retry_after` in seconds (a float) in the body, a `global` flag and `Retry-After`.

Mentions go in `content` and `allowed_mentions` always lists exactly the configured users and
roles with `parse: []`, so text from a release can never ping `@everyone` or anyone else;
only a rule with `all: true` adds `parse: ["everyone"]`.

Limits (characters): content 2000, embed title 256, description 4096, 25 fields of 256/1024,
footer 2048, 6000 per message. Messages are fitted like every chat message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field

from herald.channels.base import (
    JSON_HEADERS,
    MAX_RETRY_AFTER,
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
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, PathHint, Text
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import MAX_URL, http_url
from herald.channels.mention_rules import MentionRule, Mentions, kinds, mention_rules, mentions_for
from herald.domain.messages import Message, digest_lines, footer, host_sections
from herald.security.redaction import mask_url_credentials

MAX_BODY = 30_000
CONTENT_CHARS = 2000
TITLE_CHARS = 256
DESCRIPTION_CHARS = 4096
FIELD_VALUE_CHARS = 1024
MAX_FIELDS = 25
EMBED_CHARS = 6000
RATE_LIMIT_WAIT = 2.0  # a 429 without any wait: the per-webhook bucket resets within seconds
COLORS: Mapping[str, int] = {
    "blue": 0x3370FF,
    "turquoise": 0x14C0B4,
    "green": 0x2EA043,
    "red": 0xD73A49,
    "orange": 0xF0883E,
}

PERMANENT_HINTS: Mapping[int, str] = {
    10015: "the webhook was deleted; create a new one and update the channel",
    50027: "the webhook token is wrong; copy the webhook URL again",
    50006: "Discord refused an empty message; report this as a Herald bug",
    50035: "Discord refused the message's form; report this as a Herald bug",
    50109: "Discord could not read the message; report this as a Herald bug",
    50013: "the webhook lacks permission to post in its channel",
    50001: "the webhook cannot access its channel",
}

DiscordUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://discord.com/api/webhooks/…/…"),
    # Whoever has the webhook URL (its token) can post: the whole URL is the credential.
    DestinationUrl(whole=True),
]


class DiscordConfig(HttpChannelConfig):
    """A Discord channel webhook, and whom to mention on which events."""

    channel_type: ClassVar[str] = "discord"
    type_label: ClassVar[Text] = Text("Discord", "Discord")
    destination_field: ClassVar[str] = "webhook_url"
    usual_hosts: ClassVar[tuple[str, ...]] = (
        "discord.com",
        "discordapp.com",
        "ptb.discord.com",
        "canary.discord.com",
    )
    path_hint: ClassVar[PathHint | None] = PathHint(
        "/webhooks/", "a channel webhook (…/api/webhooks/<id>/<token>)"
    )
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "webhook_url": FieldText(
            Text("Webhook 地址", "Webhook URL"),
            help=Text(
                "频道设置 → 整合 → Webhook → 复制 Webhook URL。",
                "Channel settings → Integrations → Webhooks → Copy Webhook URL.",
            ),
            placeholder="https://discord.com/api/webhooks/…/…",
        ),
        "mentions": FieldText(
            Text("提及", "Mentions"),
            help=Text(
                "按事件提及：users 为用户 ID，groups 为角色 ID，all 为 @everyone。"
                '例：[{"events": ["task_failed"], "groups": ["123456789012345678"]}]',
                "Who is mentioned on which events: users are user ids, groups are role ids, "
                'all is @everyone. Example: [{"events": ["task_failed"], '
                '"groups": ["123456789012345678"]}]',
            ),
        ),
    }

    webhook_url: DiscordUrl
    mentions: Annotated[
        list[MentionRule],
        kinds({"users": "user ids", "groups": "role ids", "all": "@everyone"}),
    ] = mention_rules()


class DiscordSender(ChatSender[DiscordConfig]):
    """Sender for the `discord` channel type."""

    channel_type: ClassVar[str] = "discord"
    config_model: ClassVar[type[ChannelConfig]] = DiscordConfig
    model = DiscordConfig
    # Discord's webhook bucket (X-RateLimit-*: 5 per 2 s) and 10 messages per 10 s per webhook.
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        RateLimit(5, 2.0),
        RateLimit(10, 10.0),
    )

    def _request(
        self,
        message: Message,
        config: DiscordConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        mentions = mentions_for(config.mentions, message.event_type)
        body = fit_message(lambda m, n: discord_body(m, n, mentions), message, MAX_BODY)
        return OutboundRequest(
            method="POST",
            url=with_wait(config.webhook_url),
            headers=JSON_HEADERS,
            body=body,
            timeout=timeout,
            redacted_url=mask_url_credentials(with_wait(config.webhook_url)),
            redacted_headers=JSON_HEADERS,
        )

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body) or {}
        if status == 204 or (status == 200 and "id" in reply):
            return Outcome(OutcomeKind.DELIVERED, str(status), f"message {reply.get('id', '')}")
        raw = reply.get("code")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        msg = trim(reply.get("message") or body_excerpt(body))
        if status == 429:
            return self._rate_limited(reply, headers, msg)
        if code is not None and code in PERMANENT_HINTS and 400 <= status < 500:
            return Outcome(OutcomeKind.PERMANENT, str(code), f"{msg} — {PERMANENT_HINTS[code]}")
        if status == 200:
            return Outcome(OutcomeKind.PERMANENT, None, f"not a Discord answer ({msg})")
        return http_failure(status, headers, msg, self._clock)

    def _rate_limited(self, reply: dict[str, Any], headers: Mapping[str, str], msg: str) -> Outcome:
        wait = reply.get("retry_after")
        seconds = float(wait) if isinstance(wait, int | float) and wait >= 0 else None
        told = retry_after(headers, self._clock)
        if seconds is None or (seconds > 1000 and told is not None and told < seconds):
            seconds = told  # API v7 and older sent milliseconds in the body
        scope = "global" if reply.get("global") is True else "webhook"
        return Outcome(
            OutcomeKind.RETRYABLE,
            "http_429",
            trim(f"HTTP 429 ({scope} rate limit): {msg}"),
            retry_after=min(seconds if seconds is not None else RATE_LIMIT_WAIT, MAX_RETRY_AFTER),
            rate_limited=True,
        )


def with_wait(url: str) -> str:
    """`url` with `wait=true`, keeping its other query parameters (such as `thread_id`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "wait"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("wait", "true")])))


# -- rendering ----------------------------------------------------------------------------------

TOO_BIG = b"\0" * (MAX_BODY + 1)


def discord_body(message: Message, shown: int, mentions: Mentions) -> bytes:
    """The webhook body, or `TOO_BIG` when the embed breaks one of Discord's limits."""
    embed = discord_embed(message, shown)
    if not _within_limits(embed):
        return TOO_BIG
    body: dict[str, Any] = {}
    if mentions:
        body["content"] = mention_text(mentions)
    body["embeds"] = [embed]
    body["allowed_mentions"] = allowed_mentions(mentions)
    return json_bytes(body)


def discord_embed(message: Message, shown: int) -> dict[str, Any]:
    """Title (linked to the task), the fields inline, hosts or digest lines in the
    description, the event's colour and the time."""
    embed: dict[str, Any] = {"title": message.title[:TITLE_CHARS]}
    if message.link:
        embed["url"] = message.link
    if message.body_override is not None:
        embed["description"] = escape(message.body_override)
    elif message.lines:
        embed["description"] = "\n".join(escape(line) for line in digest_lines(message, shown))
    else:
        sections = host_sections(message, shown)
        if sections:
            embed["description"] = "\n".join(
                f"**{label}**: {escape(listing)}" for label, listing in sections
            )
        embed["fields"] = [
            {"name": label, "value": escape(value) or "-", "inline": len(value) <= 40}
            for label, value in message.fields[:MAX_FIELDS]
        ]
    embed["color"] = COLORS.get(message.color, COLORS["blue"])
    embed["footer"] = {"text": footer(message)}
    if message.occurred_at:
        embed["timestamp"] = message.occurred_at
    return embed


def mention_text(mentions: Mentions) -> str:
    parts = [f"<@{user}>" for user in mentions.users]
    parts += [f"<@&{role}>" for role in mentions.groups]
    if mentions.all:
        parts.append("@everyone")
    return " ".join(parts)


def allowed_mentions(mentions: Mentions) -> dict[str, Any]:
    """Exactly the configured users and roles may be pinged; nobody else, whatever the text
    says (`parse: []` turns off parsing `@everyone`, `<@id>` and `<@&id>` in content)."""
    return {
        "parse": ["everyone"] if mentions.all else [],
        "users": list(mentions.users),
        "roles": list(mentions.groups),
    }


def escape(value: str) -> str:
    """Release text cannot form mention or channel markup (`<@id>`, `<#id>`) in the embed."""
    return value.replace("<", "\\<")


def _within_limits(embed: dict[str, Any]) -> bool:
    fields = embed.get("fields", [])
    if len(embed.get("description", "")) > DESCRIPTION_CHARS:
        return False
    if any(len(f["value"]) > FIELD_VALUE_CHARS for f in fields):
        return False
    total = len(embed["title"]) + len(embed.get("description", "")) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in fields)
    return total <= EMBED_CHARS

"""Slack incoming webhook: Block Kit blocks with a plain `text` fallback.

Contract notes: platforms.md §4. The webhook URL is the only credential (whoever has it can
post). Success is HTTP 200 with the body `ok`; errors are a 4xx status with a short plain-text
code (`invalid_payload`, `channel_is_archived`, …), and 429 carries `Retry-After` in seconds.
Slack allows about one message per second per webhook.

Block Kit limits (characters): header text 150, section text 3000, section field 2000 and at
most 10 fields, context element 2000, 50 blocks, `text` 40,000. A message that would break one
of them is fitted like every chat message: hosts first, then free text. The request body is
also kept within 40,000 bytes.
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
    retry_after,
    trim,
)
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, PathHint, Text
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import MAX_URL, http_url
from herald.channels.mention_rules import MentionRule, Mentions, kinds, mention_rules, mentions_for
from herald.domain.messages import Message, digest_lines, footer, host_sections, text
from herald.security.redaction import mask_url_credentials

MAX_BODY = 40_000
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
RATE_LIMIT_WAIT = 1.0  # a 429 without Retry-After: Slack's limit is about one per second

# Error texts no retry can fix, with what the user should do about each.
PERMANENT_HINTS: Mapping[str, str] = {
    "invalid_payload": "Slack could not read the message; report this as a Herald bug",
    "no_text": "the message had no text; report this as a Herald bug",
    "invalid_blocks": "Slack refused the message's blocks; report this as a Herald bug",
    "invalid_blocks_format": "Slack refused the message's blocks; report this as a Herald bug",
    "too_many_attachments": "the message has more than 100 attachments",
    "user_not_found": "the webhook's user no longer exists; create a new webhook",
    "channel_not_found": "the webhook's channel no longer exists; create a new webhook",
    "channel_is_archived": "the webhook's channel is archived; unarchive it or use another",
    "no_service": "the webhook was removed or its app disabled; create a new webhook",
    "no_service_id": "the webhook URL is incomplete; copy it again from Slack",
    "no_team": "the webhook's workspace no longer exists; create a new webhook",
    "team_not_found": "the webhook's workspace no longer exists; create a new webhook",
    "team_disabled": "the webhook's workspace is disabled",
    "invalid_token": "the webhook URL is no longer valid; copy it again or create a new one",
    "action_prohibited": "a workspace admin restricted posting to this channel",
    "posting_to_general_channel_denied": "only admins may post to this channel",
}

SlackUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://hooks.slack.com/services/T…/B…/…"),
    # Whoever has the webhook URL can post to its channel: the whole URL is the credential.
    DestinationUrl(whole=True),
]


class SlackConfig(HttpChannelConfig):
    """A Slack incoming webhook, and whom to mention on which events."""

    channel_type: ClassVar[str] = "slack"
    type_label: ClassVar[Text] = Text("Slack", "Slack")
    destination_field: ClassVar[str] = "webhook_url"
    usual_hosts: ClassVar[tuple[str, ...]] = ("hooks.slack.com",)
    path_hint: ClassVar[PathHint | None] = PathHint(
        "/services/", "an incoming webhook (…/services/T…/B…/…)"
    )
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "webhook_url": FieldText(
            Text("Webhook 地址", "Webhook URL"),
            help=Text(
                "Slack 应用的 Incoming Webhooks 页面中复制的地址。",
                "Copied from the Incoming Webhooks page of your Slack app.",
            ),
            placeholder="https://hooks.slack.com/services/T…/B…/…",
        ),
        "mentions": FieldText(
            Text("提及", "Mentions"),
            help=Text(
                "按事件提及：users 为成员 ID（U…），groups 为用户组 ID（S…），all 为 @channel。"
                '例：[{"events": ["task_failed"], "users": ["U024BE7LH"]}]',
                "Who is mentioned on which events: users are member ids (U…), groups are "
                'user group ids (S…), all is @channel. Example: [{"events": ["task_failed"], '
                '"users": ["U024BE7LH"]}]',
            ),
        ),
    }

    webhook_url: SlackUrl
    mentions: Annotated[
        list[MentionRule],
        kinds(
            {
                "users": "member ids (U…)",
                "groups": "user group ids (S…)",
                "all": "@channel",
            }
        ),
    ] = mention_rules()


class SlackSender(ChatSender[SlackConfig]):
    """Sender for the `slack` channel type."""

    channel_type: ClassVar[str] = "slack"
    config_model: ClassVar[type[ChannelConfig]] = SlackConfig
    model = SlackConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(1, 1.0),)

    def _request(
        self,
        message: Message,
        config: SlackConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        mentions = mentions_for(config.mentions, message.event_type)
        body = fit_message(lambda m, n: slack_body(m, n, mentions), message, MAX_BODY)
        return OutboundRequest(
            method="POST",
            url=config.webhook_url,
            headers=JSON_HEADERS,
            body=body,
            timeout=timeout,
            redacted_url=mask_url_credentials(config.webhook_url),
            redacted_headers=JSON_HEADERS,
        )

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = body.decode("utf-8", errors="replace").strip()
        if status == 200 and reply == "ok":
            return Outcome(OutcomeKind.DELIVERED, "ok", "ok")
        if status == 429:
            wait = retry_after(headers, self._clock) or RATE_LIMIT_WAIT
            detail = trim(f"HTTP 429: {reply or 'rate limited'}")
            return Outcome(OutcomeKind.RETRYABLE, "http_429", detail, wait, rate_limited=True)
        if reply in PERMANENT_HINTS and 400 <= status < 500:
            return Outcome(OutcomeKind.PERMANENT, reply, f"{reply} — {PERMANENT_HINTS[reply]}")
        if status == 200:  # 200 without "ok" (an empty body): not delivered, and no retry helps
            detail = f"not a Slack answer ({body_excerpt(body)})"
            return Outcome(OutcomeKind.PERMANENT, None, detail)
        return http_failure(status, headers, body_excerpt(body), self._clock)


# -- rendering ----------------------------------------------------------------------------------

TOO_BIG = b"\0" * (MAX_BODY + 1)  # what a rendering breaking a block limit counts as


def slack_body(message: Message, shown: int, mentions: Mentions) -> bytes:
    """The webhook body for `message` listing at most `shown` hosts, or `TOO_BIG` when a
    block would break one of Block Kit's character limits (so `fit_message` cuts further)."""
    blocks = slack_blocks(message, shown, mentions)
    if not _within_limits(blocks):
        return TOO_BIG
    fallback = message.title
    if mentions:
        fallback = f"{mention_text(mentions)} {fallback}"
    return json_bytes({"text": fallback, "blocks": blocks})


def slack_blocks(message: Message, shown: int, mentions: Mentions) -> list[dict[str, Any]]:
    """Header, the fields (or the digest's lines, or a template's body), the hosts, a button
    to the task, the mentions and a context line with the time."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(message.title[:HEADER_CHARS])},
    ]
    if message.body_override is not None:
        blocks.append(_section(escape(message.body_override)))
    elif message.lines:
        blocks.append(_section("\n".join(escape(line) for line in digest_lines(message, shown))))
    else:
        fields = [_mrkdwn(f"*{escape(label)}*\n{escape(value)}") for label, value in message.fields]
        blocks.append({"type": "section", "fields": fields[:MAX_FIELDS]})
        rest = message.fields[MAX_FIELDS:]
        if rest:
            blocks.append(_section("\n".join(f"*{escape(k)}*: {escape(v)}" for k, v in rest)))
        for label, listing in host_sections(message, shown):
            blocks.append(_section(f"*{escape(label)}*: {escape(listing)}"))
    if mentions:
        blocks.append(_section(mention_text(mentions)))
    if message.link:
        button = {
            "type": "button",
            "text": _plain(text(message.locale, "open")),
            "url": message.link,
            "style": "danger" if message.color == "red" else "primary",
        }
        blocks.append({"type": "actions", "elements": [button]})
    blocks.append({"type": "context", "elements": [_mrkdwn(escape(footer(message)))]})
    return blocks


def mention_text(mentions: Mentions) -> str:
    """Slack's mention markup: `<@U…>` for members, `<!subteam^S…>` for user groups,
    `<!channel>` for everyone in the channel."""
    parts = [f"<@{user}>" for user in mentions.users]
    parts += [f"<!subteam^{group}>" for group in mentions.groups]
    if mentions.all:
        parts.append("<!channel>")
    return " ".join(parts)


def escape(value: str) -> str:
    """Slack's three control characters, so data cannot mention anyone (`<!channel>`) or
    forge a link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _within_limits(blocks: list[dict[str, Any]]) -> bool:
    for block in blocks:
        section = block.get("text")
        if block["type"] == "section" and section and len(section["text"]) > SECTION_CHARS:
            return False
        for item in block.get("fields", []):
            if len(item["text"]) > FIELD_CHARS:
                return False
        for item in block.get("elements", []) if block["type"] == "context" else []:
            if len(item["text"]) > FIELD_CHARS:
                return False
    return True


def _plain(content: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": content, "emoji": True}


def _mrkdwn(content: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": content}


def _section(content: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(content)}

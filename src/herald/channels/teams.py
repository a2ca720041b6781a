"""Microsoft Teams through a Workflows webhook (Power Automate "When a Teams webhook request is
received" → "Post card in a chat or channel"), carrying an Adaptive Card.

The webhook URL's `sig` query parameter is the credential (whoever has the URL can trigger the
flow), so the whole URL is a secret. The body is `{"type": "message", "attachments": [card]}`,
the shape the trigger's default schema expects. The trigger answers 202 Accepted once the
request is valid and runs the flow afterwards: a 202 means the workflow took the card, not that
Teams showed it (a failing flow run shows in the flow's run history, not to Herald). Errors
come in the Logic Apps shape `{"error": {"code", "message"}}`; throttling is 429 with
Retry-After.

Limits: Teams messages are at most about 28 KB; the card is fitted to 28,000 bytes. Herald
paces each workflow at 4 requests per second and 100 per minute (the Teams connector's
throttling per connection).
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
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, PathHint, Text
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import MAX_URL, http_url
from herald.domain.messages import Message, digest_lines, footer, host_sections, text
from herald.security.redaction import mask_url_credentials

MAX_BODY = 28_000
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
RATE_LIMIT_WAIT = 1.0
TONES: Mapping[str, str] = {
    "red": "Attention",
    "orange": "Warning",
    "green": "Good",
    "turquoise": "Good",
    "blue": "Accent",
}

PERMANENT_HINTS: Mapping[str, str] = {
    "WorkflowNotFound": "the workflow was deleted; create a new one and copy its URL",
    "DirectApiAuthorizationRequired": "the URL lacks its sig parameter; copy the whole URL",
    "DirectApiInvalidAuthorizationSignature": "the URL's sig is wrong; copy the URL again",
    "WorkflowTriggerIsNotEnabled": "the workflow is turned off; turn it on in Power Automate",
    "WorkflowNotEnabled": "the workflow is turned off; turn it on in Power Automate",
    "TriggerInputSchemaMismatch": "the workflow's trigger expects another body schema",
    "InvalidTemplate": "the workflow refused the card; report this as a Herald bug",
    "InvalidRequestContent": "the workflow could not read the request; report this as a bug",
}

TeamsUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://…logic.azure.com/workflows/…/triggers/manual/paths/invoke?…&sig=…"),
    # The `sig` signs the URL: whoever has it can post through the workflow.
    DestinationUrl(whole=True),
]


class TeamsConfig(HttpChannelConfig):
    """A Teams Workflows webhook URL."""

    channel_type: ClassVar[str] = "teams"
    type_label: ClassVar[Text] = Text("Microsoft Teams", "Microsoft Teams")
    destination_field: ClassVar[str] = "webhook_url"
    path_hint: ClassVar[PathHint | None] = PathHint(
        "/triggers/", "a Workflows webhook (…/workflows/<id>/triggers/manual/paths/invoke?…)"
    )
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "webhook_url": FieldText(
            Text("Workflows Webhook 地址", "Workflows webhook URL"),
            help=Text(
                "在频道的「工作流」中用「收到 webhook 请求时发布到频道」模板创建后复制的地址。",
                "From the channel's Workflows: the template 'Post to a channel when a webhook "
                "request is received', then copy the URL it shows.",
            ),
            placeholder="https://…logic.azure.com/workflows/…&sig=…",
        ),
    }

    webhook_url: TeamsUrl


class TeamsSender(ChatSender[TeamsConfig]):
    """Sender for the `teams` channel type."""

    channel_type: ClassVar[str] = "teams"
    config_model: ClassVar[type[ChannelConfig]] = TeamsConfig
    model = TeamsConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        RateLimit(4, 1.0),
        RateLimit(100, 60.0),
    )

    def _request(
        self,
        message: Message,
        config: TeamsConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        body = fit_message(lambda m, n: json_bytes(teams_body(m, n)), message, MAX_BODY)
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
        if status in (200, 202):
            return Outcome(OutcomeKind.DELIVERED, str(status), "accepted by the workflow")
        error = (parse_json_object(body) or {}).get("error")
        code = error.get("code") if isinstance(error, dict) else None
        msg = trim(error.get("message") or "") if isinstance(error, dict) else body_excerpt(body)
        if status == 429:
            wait = retry_after(headers, self._clock) or RATE_LIMIT_WAIT
            label = str(code or "http_429")
            return Outcome(OutcomeKind.RETRYABLE, label, trim(f"throttled: {msg}"), wait, True)
        if isinstance(code, str) and code in PERMANENT_HINTS and 400 <= status < 500:
            return Outcome(OutcomeKind.PERMANENT, code, f"{msg} — {PERMANENT_HINTS[code]}")
        return http_failure(status, headers, f"{code or ''} {msg}".strip(), self._clock)


def teams_body(message: Message, shown: int) -> dict[str, Any]:
    """The Workflows request: one message with one Adaptive Card attachment."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": _card_body(message, shown),
    }
    if message.link:
        open_task = {"type": "Action.OpenUrl", "title": text(message.locale, "open")}
        card["actions"] = [{**open_task, "url": message.link}]
    attachment = {"contentType": CARD_TYPE, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _card_body(message: Message, shown: int) -> list[dict[str, Any]]:
    tone = TONES.get(message.color, "Accent")
    blocks: list[dict[str, Any]] = [
        _text(message.title, weight="Bolder", size="Medium", color=tone),
    ]
    if message.body_override is not None:
        blocks.append(_text(message.body_override))
    elif message.lines:
        blocks.append(_text("\n\n".join(digest_lines(message, shown))))
    else:
        facts = [{"title": label, "value": value} for label, value in message.fields]
        blocks.append({"type": "FactSet", "facts": facts})
        for label, listing in host_sections(message, shown):
            blocks.append(_text(f"**{label}**: {listing}"))
    blocks.append(_text(footer(message), isSubtle=True, size="Small"))
    return blocks


def _text(content: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": content, "wrap": True, **style}

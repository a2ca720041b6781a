"""WeCom group robot (群机器人 / 消息推送): markdown posted to the robot's webhook.

Contract notes: platforms.md §3.2 and §3.3. The `key` in the URL is the only credential; there
is no signature. Content stays within 4096 UTF-8 bytes and uses the same layout as the
application messages. Errors arrive with HTTP 200 and are classified by `errcode` alone.
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
    trim,
)
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, Text
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import MAX_URL, http_url
from herald.channels.mention_rules import (
    MentionRule,
    Mentions,
    kinds,
    mention_rules,
    mentions_for,
)
from herald.channels.wecom_app import classify, wecom_markdown
from herald.domain.messages import Message, digest_lines, footer, host_sections, text
from herald.security.redaction import mask_url_credentials

MAX_CONTENT = 4096
MAX_TEXT = 2048  # a text message's content, the type that can mention mobiles and @all

# Robot-specific codes no retry fixes; the shared table covers the rest.
PERMANENT_HINTS: Mapping[int, str] = {
    93000: "the robot's webhook key is invalid or the robot was removed from the group",
    93004: "the robot is disabled",
    93008: "the robot is no longer in the group",
    40058: "the message is too long or has an invalid parameter",
    45002: "the message content is too large",
}


WeComBotUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"),
    # Whoever has a robot's webhook URL can post to its group: the whole URL is the credential.
    DestinationUrl(whole=True),
]


class WeComBotConfig(HttpChannelConfig):
    """A WeCom group robot: its webhook URL, whose `key` is the only credential."""

    channel_type: ClassVar[str] = "wecom_bot"
    type_label: ClassVar[Text] = Text("企业微信群机器人", "WeCom robot")
    destination_field: ClassVar[str] = "webhook_url"
    usual_hosts: ClassVar[tuple[str, ...]] = ("qyapi.weixin.qq.com",)
    credential_param: ClassVar[str | None] = "key"
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "webhook_url": FieldText(
            Text("Webhook 地址", "Webhook URL"),
            placeholder="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        ),
        "mentions": FieldText(
            Text("按事件提及", "Mentions by event"),
            help=Text(
                "只在所选事件上 @：users 为成员 userid，mobiles 为手机号，all 为 @所有人。"
                "只 @ 成员时仍发 markdown；含手机号或所有人时改发文本消息（markdown 不支持）。"
                '例：[{"events": ["task_failed"], "users": ["zhangsan"]}]',
                "Mention only on the chosen events: users are member userids, mobiles phone "
                "numbers, all is @all. Members alone keep the markdown message; mobiles or @all "
                "switch that event to a text message (markdown cannot mention them). "
                'Example: [{"events": ["task_failed"], "users": ["zhangsan"]}]',
            ),
        ),
    }

    webhook_url: WeComBotUrl
    mentions: Annotated[
        list[MentionRule],
        kinds({"users": "member userids", "mobiles": "phone numbers", "all": "@all"}),
    ] = mention_rules()


class WeComBotSender(ChatSender[WeComBotConfig]):
    """Sender for the `wecom_bot` channel type."""

    channel_type: ClassVar[str] = "wecom_bot"
    config_model: ClassVar[type[ChannelConfig]] = WeComBotConfig
    model = WeComBotConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(20, 60.0),)

    def _request(
        self,
        message: Message,
        config: WeComBotConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        who = mentions_for(config.mentions, message.event_type)
        return OutboundRequest(
            method="POST",
            url=config.webhook_url,
            headers=JSON_HEADERS,
            body=json_bytes(robot_body(message, who)),
            timeout=timeout,
            redacted_url=mask_url_credentials(config.webhook_url),
            redacted_headers=JSON_HEADERS,
        )

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body)
        if reply is None or "errcode" not in reply:
            detail = f"not a WeCom robot answer ({body_excerpt(body)})"
            return http_failure(status, headers, detail, self._clock)
        raw = reply["errcode"]
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if code == 0 and 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, "0", trim(reply.get("errmsg") or "ok"))
        if code is not None and code in PERMANENT_HINTS:
            msg = trim(reply.get("errmsg") or "")
            return Outcome(OutcomeKind.PERMANENT, str(raw), f"{PERMANENT_HINTS[code]} ({msg})")
        return classify(code, reply, status, headers, self._clock)


def robot_body(message: Message, who: Mentions) -> dict[str, Any]:
    """Markdown (members mentioned as `<@userid>` in the content), or, when mobiles or @all
    are to be mentioned, a text message with `mentioned_list` / `mentioned_mobile_list`:
    the robot's markdown ignores those lists and has no @all."""
    if not (who.mobiles or who.all):

        def markdown(shown: Message, n: int) -> bytes:
            content = wecom_markdown(shown, n)
            if who.users:
                content += "\n" + " ".join(f"<@{user}>" for user in who.users)
            return content.encode()

        content = fit_message(markdown, message, MAX_CONTENT).decode()
        return {"msgtype": "markdown", "markdown": {"content": content}}
    content = fit_message(lambda m, n: plain_text(m, n).encode(), message, MAX_TEXT).decode()
    text_message = {
        "content": content,
        "mentioned_list": [*who.users, *(["@all"] if who.all else [])],
        "mentioned_mobile_list": list(who.mobiles),
    }
    return {"msgtype": "text", "text": text_message}


def plain_text(message: Message, shown: int) -> str:
    """The message as plain text: title, fields (or digest lines, or a template's body),
    hosts, the link and the time."""
    if message.body_override is not None:
        rows = [message.body_override]
    elif message.lines:
        rows = digest_lines(message, shown)
    else:
        pairs = [*message.fields, *host_sections(message, shown)]
        rows = [f"{label}: {value}" for label, value in pairs]
    lines = [message.title, *rows]
    if message.link:
        lines.append(f"{text(message.locale, 'open')}: {message.link}")
    lines.append(footer(message))
    return "\n".join(lines)

"""WeCom group robot (群机器人 / 消息推送): markdown posted to the robot's webhook.

Contract notes: platforms.md §3.2 and §3.3. The `key` in the URL is the only credential; there
is no signature. Content stays within 4096 UTF-8 bytes and uses the same layout as the
application messages. Errors arrive with HTTP 200 and are classified by `errcode` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

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
from herald.channels.wecom_app import classify, wecom_markdown
from herald.domain.messages import Message
from herald.security.redaction import mask_url_credentials

MAX_CONTENT = 4096

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
    }

    webhook_url: WeComBotUrl


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
        content = fit_message(lambda m, n: wecom_markdown(m, n).encode(), message, MAX_CONTENT)
        body = {"msgtype": "markdown", "markdown": {"content": content.decode()}}
        return OutboundRequest(
            method="POST",
            url=config.webhook_url,
            headers=JSON_HEADERS,
            body=json_bytes(body),
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

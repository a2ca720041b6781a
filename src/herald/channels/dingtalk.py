"""DingTalk custom robot: a markdown message, signed in the query string.

Contract notes: platforms.md §2. The signature (ms timestamp, HMAC keyed by the secret) is
appended to the user's URL and percent-encoded exactly once. Bodies stay within 20,000
bytes. Success is `errcode == 0` and nothing else: the anti-abuse gateway answers HTTP 200
with `{"status":1111,"wait":5,…}` and no errcode at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, Field

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
from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, Text
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import (
    MAX_URL,
    MentionId,
    Secret,
    field_error,
    http_url,
    mentions,
    optional,
)
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
from herald.security.signing import dingtalk_signed_url

MAX_BODY = 20_000  # errcode 460101 past this
PENALTY = 600.0  # 130101: the robot is throttled for 10 minutes
GATEWAY_WAIT = 5.0
LINE_BREAK = "  \n"  # a hard break in every markdown dialect; DingTalk joins bare newlines

PERMANENT_HINTS: Mapping[int, str] = {
    300001: "the robot token or the message parameters are invalid; check webhook_url",
    300005: "the robot's access_token does not exist; copy the robot's webhook URL again",
    40035: "the webhook URL lacks its access_token parameter",
    43002: "DingTalk expected a POST request",
    460101: "the message is over 20,000 bytes",
    400013: "the group of this robot was disbanded",
    400101: "the robot's access_token does not exist; copy the robot's webhook URL again",
    400102: "the robot is stopped; enable it in the group's robot settings",
    400105: "DingTalk does not support this message type",
    400106: "the robot does not exist; copy the robot's webhook URL again",
}
RATE_LIMIT_CODES = frozenset({130101, 410100})

# errcode 310000 means four different things; its errmsg says which (checked in this order,
# since the "signature expired" wording also mentions the signature).
SECURITY_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("keyword", "关键词"),
        "keyword check failed: the message contains none of the robot's custom keywords; add "
        "a keyword Herald's messages contain, such as 发布 or Herald",
    ),
    (
        ("timestamp", "过期"),
        "timestamp check failed: this server's clock must be within an hour of real time",
    ),
    (
        ("sign", "签名"),
        "signature check failed: sign_secret must be the robot's 加签 secret (SEC…) for "
        "this webhook_url",
    ),
    (
        ("whitelist", "白名单", "ip "),
        "IP check failed: add this server's address to the robot's IP whitelist",
    ),
)


_MOBILE = re.compile(r"\+?[0-9][0-9\- ]{2,19}")


def _mobile(value: str) -> str:
    if not _MOBILE.fullmatch(value):
        raise field_error("mobile", f"{value!r} is not a phone number such as 13800000000")
    return value


def _signing_secret(value: str) -> str:
    if not value.startswith("SEC"):
        raise field_error(
            "sign_secret",
            "sign_secret must be the robot's signing secret, which starts with SEC "
            "(DingTalk robot settings → 安全设置 → 加签)",
        )
    return value


def _unsigned(value: str) -> str:
    names = {name for name, _ in parse_qsl(urlsplit(value).query, keep_blank_values=True)}
    if names & {"timestamp", "sign"}:
        raise field_error(
            "webhook_url",
            "webhook_url must be the robot's plain URL without timestamp/sign parameters; put "
            "the SEC… secret in sign_secret and Herald signs every message",
        )
    return value


DingTalkWebhook = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://oapi.dingtalk.com/robot/send?access_token=…"),
    AfterValidator(_unsigned),
    # Whoever has a robot's webhook URL can post to its group: the whole URL is the credential.
    DestinationUrl(whole=True),
]
DingTalkSecret = Annotated[Secret, optional(_signing_secret)]
Mobile = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_mobile)]


class DingTalkConfig(HttpChannelConfig):
    """A DingTalk custom robot: its webhook URL and, with 加签 on, its SEC… signing secret."""

    channel_type: ClassVar[str] = "dingtalk"
    type_label: ClassVar[Text] = Text("钉钉", "DingTalk")
    destination_field: ClassVar[str] = "webhook_url"
    usual_hosts: ClassVar[tuple[str, ...]] = ("oapi.dingtalk.com",)
    credential_param: ClassVar[str | None] = "access_token"
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "webhook_url": FieldText(
            Text("Webhook 地址", "Webhook URL"),
            placeholder="https://oapi.dingtalk.com/robot/send?access_token=…",
        ),
        "sign_secret": FieldText(Text("签名密钥", "Signing secret"), placeholder="SEC…"),
        "at_mobiles": FieldText(
            Text("@成员（手机号）", "Mention members (phone numbers)"), placeholder="13800000000"
        ),
        "at_user_ids": FieldText(Text("@成员（userId）", "Mention members (userId)")),
        "at_all": FieldText(Text("@所有人", "@all")),
        "mentions": FieldText(
            Text("按事件提及", "Mentions by event"),
            help=Text(
                "只在所选事件上 @：users 为 userId，mobiles 为手机号，all 为 @所有人。"
                '例：[{"events": ["task_failed"], "mobiles": ["13800000000"]}]。'
                "上面三项对每个事件都生效。",
                "Mention only on the chosen events: users are userIds, mobiles phone numbers, "
                'all is @all. Example: [{"events": ["task_failed"], "mobiles": '
                '["13800000000"]}]. The three fields above apply to every event.',
            ),
        ),
    }

    webhook_url: DingTalkWebhook
    sign_secret: DingTalkSecret = None
    at_mobiles: list[Mobile] = mentions()
    at_user_ids: list[MentionId] = mentions()
    at_all: bool = False
    mentions: Annotated[
        list[MentionRule],
        kinds({"users": "userIds", "mobiles": "phone numbers", "all": "@all"}),
    ] = mention_rules()


def mentioned(config: DingTalkConfig, event_type: str) -> Mentions:
    """Who `event_type` mentions: the fields for every event plus the rules naming it."""
    always = Mentions(
        users=tuple(config.at_user_ids), mobiles=tuple(config.at_mobiles), all=config.at_all
    )
    return merged(always, mentions_for(config.mentions, event_type))


class DingTalkSender(ChatSender[DingTalkConfig]):
    """Sender for the `dingtalk` channel type."""

    channel_type: ClassVar[str] = "dingtalk"
    config_model: ClassVar[type[ChannelConfig]] = DingTalkConfig
    model = DingTalkConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(20, 60.0),)

    def _request(
        self,
        message: Message,
        config: DingTalkConfig,
        now: float,
        access_token: str | None,
        timeout: float,
    ) -> OutboundRequest:
        url = config.webhook_url
        if config.sign_secret:
            url = dingtalk_signed_url(url, config.sign_secret, int(now * 1000))

        def render(shown: Message, n: int) -> bytes:
            return json_bytes(build_body(shown, n, config))

        return OutboundRequest(
            method="POST",
            url=url,
            headers=JSON_HEADERS,
            body=fit_message(render, message, MAX_BODY),
            timeout=timeout,
            redacted_url=mask_url_credentials(url),
            redacted_headers=JSON_HEADERS,
        )

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        reply = parse_json_object(body)
        if reply is not None and "errcode" not in reply and "status" in reply:
            return _gateway(reply)
        if reply is None or "errcode" not in reply:
            detail = f"not a DingTalk robot answer ({body_excerpt(body)})"
            return http_failure(status, headers, detail, self._clock)
        raw = reply["errcode"]
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        msg = trim(reply.get("errmsg") or "")
        if code == 0 and 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, "0", msg or "ok")
        return self._failure(code, str(raw), msg, status, headers)

    def _failure(
        self, code: int | None, label: str, msg: str, status: int, headers: Mapping[str, str]
    ) -> Outcome:
        if code in RATE_LIMIT_CODES:
            wait = max(PENALTY, retry_after(headers, self._clock) or 0.0)
            detail = f"{msg} — DingTalk throttles the robot for 10 minutes"
            return Outcome(
                OutcomeKind.RETRYABLE, label, detail, retry_after=wait, rate_limited=True
            )
        if code == -1:
            return Outcome(OutcomeKind.RETRYABLE, label, msg or "DingTalk is busy")
        if code == 310000:
            return Outcome(OutcomeKind.PERMANENT, label, f"{msg} — {security_hint(msg)}")
        if code is not None and code in PERMANENT_HINTS:
            return Outcome(OutcomeKind.PERMANENT, label, f"{msg} — {PERMANENT_HINTS[code]}")
        if status >= 500 or status in (408, 429):
            later = retry_after(headers, self._clock)
            return Outcome(OutcomeKind.RETRYABLE, label, msg or f"HTTP {status}", retry_after=later)
        return Outcome(OutcomeKind.PERMANENT, label, msg or f"DingTalk answered errcode {label}")


def security_hint(errmsg: str) -> str:
    """Which of the robot's security settings refused a 310000, and what to fix."""
    lowered = errmsg.lower()
    for needles, hint in SECURITY_HINTS:
        if any(needle in lowered for needle in needles):
            return hint
    return "a security setting of the robot (keywords, signature or IP whitelist) refused it"


def _gateway(reply: Mapping[str, Any]) -> Outcome:
    wait = reply.get("wait")
    seconds = float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else None
    message = trim(
        f"DingTalk's gateway refused the request without an errcode "
        f"(status {reply.get('status')}, punish {reply.get('punish')})"
    )
    return Outcome(
        OutcomeKind.RETRYABLE,
        str(reply.get("status")),
        message,
        retry_after=seconds if seconds is not None else GATEWAY_WAIT,
        rate_limited=True,
    )


def build_body(message: Message, shown: int, config: DingTalkConfig) -> dict[str, Any]:
    """The markdown message for `message`, listing at most `shown` of each host list."""
    body: dict[str, Any] = {
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": markdown_text(message, shown, config)},
    }
    who = mentioned(config, message.event_type)
    if who:
        body["at"] = {
            "atMobiles": list(who.mobiles),
            "atUserIds": list(who.users),
            "isAtAll": who.all,
        }
    return body


def markdown_text(message: Message, shown: int, config: DingTalkConfig) -> str:
    """PRD §4.4: "## 发布通知：…" then "**项目**: …" lines, hosts, the link and the time."""
    if message.body_override is not None:
        parts = [message.body_override]
    else:
        parts = [f"## {message.title}", LINE_BREAK.join(_lines(message, shown))]
        if message.link:
            parts.append(f"[{text(message.locale, 'open')}]({message.link})")
        parts.append(f"> {footer(message)}")
    # A mention only rings when the @mobile / @userId also appears in the text.
    who = mentioned(config, message.event_type)
    if who.mobiles or who.users:
        parts.append(" ".join(f"@{one}" for one in [*who.mobiles, *who.users]))
    return "\n\n".join(parts)


def _lines(message: Message, shown: int) -> list[str]:
    if message.lines:
        return digest_lines(message, shown)
    fields = [(label, value) for label, value in message.fields]
    return [f"**{label}**: {value}" for label, value in fields + host_sections(message, shown)]

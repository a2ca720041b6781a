"""Custom HTTP endpoints: the PRD §3.3 standard message, signed per Standard Webhooks.

The body is the event payload byte for byte (compact JSON, keys in the documented order,
non-ASCII kept). `webhook-id` is the delivery id, stable across retries, so receivers can
drop duplicates; `webhook-signature` is added when a `whsec_` secret is configured. Any 2xx
is success whatever the body; redirects are never followed (update the URL instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from herald.channels.base import (
    CHAT_TIMEOUT,
    USER_AGENT,
    EventView,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    body_excerpt,
    expect_config,
    json_bytes,
    retry_after,
    trim,
)
from herald.channels.config_base import (
    ChannelConfig,
    DestinationUrl,
    FieldText,
    SecretHeaders,
    Text,
)
from herald.channels.credentials import secret_header_names, shown_headers, shown_url
from herald.channels.egress_fields import HttpChannelConfig
from herald.channels.fields import (
    MAX_URL,
    HeaderNames,
    Headers,
    Secret,
    field_error,
    http_url,
    optional,
    saving,
)
from herald.domain.shapes import JsonInt
from herald.security.signing import decode_webhook_secret, standard_webhook_headers

RETRYABLE_STATUSES = frozenset({408, 425, 429})


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _retry_interval(value: int, info: ValidationInfo) -> int:
    if value < 1 and saving(info):
        raise field_error(
            "retry_interval",
            "retry_interval must be at least 1 second: retrying a failing endpoint at once "
            "only adds load while it recovers",
        )
    return value


def _whsec(value: str) -> str:
    try:
        key = decode_webhook_secret(value)
    except ValueError:
        key = b""
    if not value.startswith("whsec_") or len(key) < 16:
        raise field_error(
            "signing_secret",
            "signing_secret must be a Standard Webhooks secret: whsec_ followed by the base64 "
            "of 16-64 random bytes",
        )
    return value


CustomUrl = Annotated[
    str,
    Field(max_length=MAX_URL),
    http_url("https://ci.example.com/herald-hook"),
    DestinationUrl(path_secret_if="secret_url"),  # noqa: S106 - names a field, not a secret
]
Method = Annotated[Literal["POST", "PUT"], BeforeValidator(_upper)]
# Stored settings may hold 0 (saved before the rule); new input needs at least 1, as documented.
RetryInterval = Annotated[
    JsonInt,
    Field(ge=0, le=3600, json_schema_extra={"minimum": 1}),
    AfterValidator(_retry_interval),
]
SigningSecret = Annotated[Secret, optional(_whsec)]

_FIELD_TEXTS: Mapping[str, FieldText] = {  # in form order
    "url": FieldText(Text("回调 URL", "URL"), placeholder="https://ci.example.com/herald-hook"),
    "method": FieldText(Text("HTTP 方法", "Method")),
    "secret_url": FieldText(
        Text("URL 路径保密", "Secret URL path"),
        help=Text(
            "勾选后，URL 的路径和查询参数在配置、历史和预览中都显示为 ****。",
            "When checked, the URL's path and query show as **** in the config, the history "
            "and previews.",
        ),
    ),
    "headers": FieldText(
        Text("自定义请求头", "Headers"),
        placeholder="Authorization: Bearer …",
        help=Text(
            "每行一个，格式为 名称: 值。Authorization、Cookie 及名称含 auth、token、key、secret、"
            "signature、session 等的请求头视为密钥，以掩码显示；其他请求头按原样显示。",
            "One per line: Name: value. Authorization, Cookie and headers named like auth, "
            "token, key, secret, signature or session are secrets, shown masked; other headers "
            "are shown as entered.",
        ),
    ),
    "secret_headers": FieldText(
        Text("保密请求头", "Secret headers"),
        placeholder="X-Tenant",
        help=Text(
            "其值同样作为密钥掩码显示的请求头名称（需是上面已填写的请求头）。",
            "Names of further headers (among those above) whose values are secrets, shown masked.",
        ),
    ),
    "timeout": FieldText(Text("超时（秒）", "Timeout (s)")),
    "retry_count": FieldText(Text("重试次数", "Retries")),
    "retry_interval": FieldText(Text("重试间隔（秒）", "Retry interval (s)")),
    "signing_secret": FieldText(
        Text("签名密钥（whsec_…）", "Signing secret (whsec_…)"), placeholder="whsec_…"
    ),
    "ordered": FieldText(
        Text("按事件顺序送达", "Deliver in event order"),
        help=Text(
            "同一任务的通知按事件顺序逐条发送：前一条仍在重试时，后面的会等待。取消勾选后可并行发送"
            "（接收方按 sequence 自行排序）。",
            "One task's notifications go one after another, in event order: while an earlier "
            "one is being retried, later ones wait. Uncheck to send them in parallel (your "
            "receiver orders them by sequence).",
        ),
    ),
}


class CustomConfig(HttpChannelConfig):
    """PRD CustomCallbackConfig: the standard JSON message POSTed (or PUT) to any URL.

    `secret_headers` names headers whose values are secret besides those named like a credential;
    `secret_url` makes the URL's path and query secret (masked everywhere, see `credentials`).
    Carries its own retry schedule and timeout (`capabilities.OwnRetryPolicy`).
    """

    channel_type: ClassVar[str] = "custom"
    type_label: ClassVar[Text] = Text("自定义 HTTP", "Custom HTTP")
    destination_field: ClassVar[str] = "url"
    field_texts: ClassVar[Mapping[str, FieldText]] = _FIELD_TEXTS

    url: CustomUrl
    method: Method = "POST"
    headers: Annotated[Headers, SecretHeaders(listed_in="secret_headers")] = Field(
        default_factory=dict
    )
    secret_headers: HeaderNames = Field(default_factory=list)
    secret_url: bool = False
    timeout: Annotated[JsonInt, Field(ge=1, le=60)] = 10
    retry_count: Annotated[JsonInt, Field(ge=0, le=20)] = 3
    retry_interval: RetryInterval = 5
    signing_secret: SigningSecret = None
    # Deliver one task's events to this endpoint one after another, in event order; receivers
    # that order by the payload's `sequence` themselves may switch it off for more parallelism.
    ordered: bool = True

    def delivery_policy(self) -> dict[str, Any]:
        """See `capabilities.OwnRetryPolicy`."""
        return {
            "retries": self.retry_count,
            "interval": float(self.retry_interval),
            "timeout": float(self.timeout),
            "ordered": self.ordered,
        }

    @field_validator("headers")
    @classmethod
    def _one_authorization(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        # aiohttp turns user:password@ into an Authorization header and refuses a second one,
        # so such a config could never be sent: every attempt would fail the same way.
        url = info.data.get("url")
        if not (saving(info) and isinstance(url, str) and "authorization" in map(str.lower, value)):
            return value
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "headers sets Authorization and url carries user:password@ credentials, but a "
                "request has one Authorization: keep one of the two"
            )
        return value

    @field_validator("secret_headers")
    @classmethod
    def _names_configured_headers(cls, value: list[str], info: ValidationInfo) -> list[str]:
        headers = info.data.get("headers")
        known = {name.lower() for name in headers} if isinstance(headers, dict) else None
        unknown = [name for name in value if known is not None and name.lower() not in known]
        if unknown:
            raise ValueError(
                f"secret_headers lists {unknown[0]!r}, which is not one of the headers; "
                "list only names of configured headers"
            )
        return value


class CustomSender:
    """Sender for the `custom` channel type."""

    channel_type: ClassVar[str] = "custom"
    config_model: ClassVar[type[ChannelConfig]] = CustomConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    supports_digest: ClassVar[bool] = False  # receivers expect one standard message per event
    renders_message: ClassVar[bool] = False
    one_at_a_time: ClassVar[bool] = False  # up to `worker.per_target_concurrency` at once
    requests_per_delivery: ClassVar[int] = 1

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # only for Retry-After dates

    def target_identity(self, config: ChannelConfig) -> str:
        return expect_config(config, CustomConfig).url

    def render(
        self,
        event: EventView,
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        """The standard message of `event`, within the channel's own `timeout`."""
        endpoint = expect_config(config, CustomConfig)
        body = json_bytes(event.payload)
        signed = standard_webhook_headers(
            endpoint.signing_secret, event.delivery_id, int(now), body
        )
        base = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        headers = merge_headers(base, endpoint.headers, signed)
        return OutboundRequest(
            method=endpoint.method,
            url=endpoint.url,
            headers=headers,
            body=body,
            timeout=float(endpoint.timeout),
            redacted_url=shown_url(endpoint, "url"),
            # Only secret values are masked: the history shows what was sent.
            redacted_headers=shown_headers(headers, secret_header_names(endpoint)),
        )

    def render_digest(
        self,
        events: Sequence[EventView],
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        raise NotImplementedError("custom endpoints receive one standard message per event")

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        code = f"http_{status}"
        if 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, code, f"HTTP {status}")
        detail = f"HTTP {status}: {body_excerpt(body)}"
        if status in RETRYABLE_STATUSES or status >= 500:
            # Not flagged rate_limited: a receiver's 429 governs this delivery's retry through
            # Retry-After; it is not a published quota the engine should pace the target by.
            wait = retry_after(headers, self._clock)
            return Outcome(OutcomeKind.RETRYABLE, code, trim(detail), retry_after=wait)
        if status == 410:
            return Outcome(OutcomeKind.PERMANENT, code, trim(f"endpoint gone ({detail})"))
        if 300 <= status < 400:
            hint = "redirects are not followed; update the URL"
            return Outcome(OutcomeKind.PERMANENT, code, trim(f"{hint} ({detail})"))
        if 400 <= status < 500:
            return Outcome(OutcomeKind.PERMANENT, code, trim(detail))
        # 1xx as a final answer is a broken server or proxy; it may recover.
        return Outcome(OutcomeKind.RETRYABLE, code, trim(detail))


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win; names compare without regard to case, the last spelling is kept."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())

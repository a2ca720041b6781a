"""Per-type channel settings (PRD §4.1 `config` objects), validated so a person can act on errors.

The API stores a channel as `{"id", "type", "enabled", "config": {...}}`; `parse_channel_config`
turns `config` into one of the models below or raises pydantic's `ValidationError` with the
field path. Unknown fields are rejected so typos surface, and types are strict: `"3"` or `true`
is not a number (3.0 is 3, as in JSON). `load_channel_config` reads stored settings, letting
through the rules that only judge new input (see `herald.channels.fields`). Which values are
secret, and how they are masked, redacted and kept, is `herald.channels.credentials`;
`host_warnings` flags unusual hosts without refusing them (proxies, Lark and private
deployments exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from herald.channels.fields import (
    AgentId,
    ApiBase,
    AppSecret,
    CorpId,
    CustomUrl,
    DingTalkSecret,
    DingTalkWebhook,
    FeishuUrl,
    HeaderNames,
    Headers,
    MentionId,
    Method,
    Mobile,
    RetryInterval,
    Secret,
    SigningSecret,
    ToParty,
    ToTag,
    ToUser,
    WeComBotUrl,
    mentions,
    saving,
)
from herald.domain.shapes import JsonInt


class UnknownChannelType(KeyError):
    """A channel type Herald has no sender for; the message lists the valid ones."""

    def __init__(self, channel_type: str) -> None:
        valid = ", ".join(sorted(CONFIG_MODELS))
        super().__init__(f"unknown channel type {channel_type!r}; valid types are: {valid}")
        self.channel_type = channel_type

    def __str__(self) -> str:
        return str(self.args[0])


class ChannelConfig(BaseModel):
    """Base of every channel type's settings; `channel_type` names the PRD `type`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    channel_type: ClassVar[str] = ""


class FeishuConfig(ChannelConfig):
    channel_type: ClassVar[str] = "feishu"
    webhook_url: FeishuUrl
    sign_secret: Secret = None
    mention_all: bool = False
    mention_open_ids: list[MentionId] = mentions()


class DingTalkConfig(ChannelConfig):
    channel_type: ClassVar[str] = "dingtalk"
    webhook_url: DingTalkWebhook
    sign_secret: DingTalkSecret = None
    at_mobiles: list[Mobile] = mentions()
    at_user_ids: list[MentionId] = mentions()
    at_all: bool = False


class WeChatConfig(ChannelConfig):
    """The PRD's `wechat` type: a WeCom self-built application (corp id, agent id, secret)."""

    channel_type: ClassVar[str] = "wechat"
    corp_id: CorpId
    agent_id: AgentId
    secret: AppSecret
    to_user: ToUser = "@all"
    to_party: ToParty = None
    to_tag: ToTag = None
    api_base: ApiBase = "https://qyapi.weixin.qq.com"

    @model_validator(mode="after")
    def _has_recipient(self) -> WeChatConfig:
        if not (self.to_user or self.to_party or self.to_tag):
            raise ValueError("at least one of to_user, to_party or to_tag must name a recipient")
        return self


class WeComBotConfig(ChannelConfig):
    channel_type: ClassVar[str] = "wecom_bot"
    webhook_url: WeComBotUrl


class CustomConfig(ChannelConfig):
    """PRD CustomCallbackConfig: the standard JSON message POSTed (or PUT) to any URL.

    `secret_headers` names headers whose values are secret besides those named like a credential;
    `secret_url` makes the URL's path and query secret (masked everywhere, see `credentials`).
    """

    channel_type: ClassVar[str] = "custom"
    url: CustomUrl
    method: Method = "POST"
    headers: Headers = Field(default_factory=dict)
    secret_headers: HeaderNames = Field(default_factory=list)
    secret_url: bool = False
    timeout: Annotated[JsonInt, Field(ge=1, le=60)] = 10
    retry_count: Annotated[JsonInt, Field(ge=0, le=20)] = 3
    retry_interval: RetryInterval = 5
    signing_secret: SigningSecret = None
    # Deliver one task's events to this endpoint one after another, in event order; receivers
    # that order by the payload's `sequence` themselves may switch it off for more parallelism.
    ordered: bool = True

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


CONFIG_MODELS: Mapping[str, type[ChannelConfig]] = {
    model.channel_type: model
    for model in (FeishuConfig, DingTalkConfig, WeChatConfig, WeComBotConfig, CustomConfig)
}

# The fields holding a secret value of each type (custom headers are judged per header).
SECRET_FIELDS: Mapping[str, tuple[str, ...]] = {
    "feishu": ("sign_secret",),
    "dingtalk": ("sign_secret",),
    "wechat": ("secret",),
    "wecom_bot": (),
    "custom": ("signing_secret",),
}
# The fields naming where a channel's requests go.
URL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "feishu": ("webhook_url",),
    "dingtalk": ("webhook_url",),
    "wechat": ("api_base",),
    "wecom_bot": ("webhook_url",),
    "custom": ("url",),
}
# Robot webhooks: whoever has the URL can post, so the whole URL is a secret.
SECRET_URL_TYPES = frozenset({"feishu", "dingtalk", "wecom_bot"})


def parse_channel_config(channel_type: str, config: Mapping[str, Any]) -> ChannelConfig:
    """Validate new settings `config` for `channel_type`, every rule applied.

    Raises `UnknownChannelType` for a type without a model and pydantic's `ValidationError`
    (locations relative to `config`) for invalid settings.
    """
    return _model(channel_type).model_validate(dict(config))


def load_channel_config(channel_type: str, config: Mapping[str, Any]) -> ChannelConfig:
    """Settings read back from the store: as `parse_channel_config`, without the rules that only
    judge new input, so configs saved before a rule existed still load."""
    return _model(channel_type).model_validate(dict(config), context={"stored": True})


def _model(channel_type: str) -> type[ChannelConfig]:
    model = CONFIG_MODELS.get(channel_type)
    if model is None:
        raise UnknownChannelType(channel_type)
    return model


USUAL_HOSTS: Mapping[str, tuple[str, ...]] = {
    "feishu": ("open.feishu.cn", "open.larksuite.com"),
    "dingtalk": ("oapi.dingtalk.com",),
    "wechat": ("qyapi.weixin.qq.com",),
    "wecom_bot": ("qyapi.weixin.qq.com",),
}
_CREDENTIAL_PARAM = {"dingtalk": "access_token", "wecom_bot": "key"}


def host_warnings(config: ChannelConfig) -> list[str]:
    """Things worth a second look that are not errors: an unusual host for the platform, or
    a webhook URL without the part that carries its credential."""
    usual = USUAL_HOSTS.get(config.channel_type)
    if usual is None:
        return []
    field = "api_base" if isinstance(config, WeChatConfig) else "webhook_url"
    parts = urlsplit(getattr(config, field))
    warnings = []
    if parts.hostname not in usual:
        warnings.append(
            f"{field} points at {parts.hostname}, not {' or '.join(usual)}: fine for a proxy "
            "or private deployment, otherwise check the URL"
        )
    param = _CREDENTIAL_PARAM.get(config.channel_type)
    if param and param not in dict(parse_qsl(parts.query)):
        warnings.append(f"{field} has no {param} parameter; the platform will reject it")
    if isinstance(config, FeishuConfig) and "/open-apis/bot/v2/hook/" not in parts.path:
        warnings.append(f"{field} is not a bot webhook (…/open-apis/bot/v2/hook/<token>)")
    return warnings

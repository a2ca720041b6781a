"""Per-type channel settings (PRD §4.1 `config` objects), validated so a person can act on errors.

The API stores a channel as `{"id", "type", "enabled", "config": {...}}`; `parse_channel_config`
turns `config` into one of the models below or raises pydantic's `ValidationError` with the
field path. Unknown fields are rejected so typos surface. `masked`, `merge_masked` and
`secret_values` keep credentials out of API responses, history and logs; `host_warnings`
flags unusual hosts without refusing them (proxies, Lark and private deployments exist).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from herald.channels.fields import (
    MASK,
    AgentId,
    ApiBase,
    AppSecret,
    CorpId,
    CustomUrl,
    DingTalkSecret,
    DingTalkWebhook,
    FeishuUrl,
    Headers,
    MentionId,
    Method,
    Mobile,
    Secret,
    SigningSecret,
    ToParty,
    ToTag,
    ToUser,
    WeComBotUrl,
    mentions,
)
from herald.crypto import mask_secret, mask_url_credentials

MIN_URL_CREDENTIAL = 8
_SECRET_PARAM = re.compile(r"token|key|sign|secret|passw|pwd|auth|credential", re.IGNORECASE)


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

    model_config = ConfigDict(extra="forbid", frozen=True)
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
    """PRD CustomCallbackConfig: the standard JSON message POSTed (or PUT) to any URL."""

    channel_type: ClassVar[str] = "custom"
    url: CustomUrl
    method: Method = "POST"
    headers: Headers = Field(default_factory=dict)
    timeout: Annotated[int, Field(ge=1, le=60)] = 10
    retry_count: Annotated[int, Field(ge=0, le=20)] = 3
    retry_interval: Annotated[int, Field(ge=0, le=3600)] = 5
    signing_secret: SigningSecret = None
    # Deliver one task's events to this endpoint one after another, in event order; receivers
    # that order by the payload's `sequence` themselves may switch it off for more parallelism.
    ordered: bool = True


CONFIG_MODELS: Mapping[str, type[ChannelConfig]] = {
    model.channel_type: model
    for model in (FeishuConfig, DingTalkConfig, WeChatConfig, WeComBotConfig, CustomConfig)
}

SECRET_FIELDS: Mapping[str, tuple[str, ...]] = {
    "feishu": ("webhook_url", "sign_secret"),
    "dingtalk": ("webhook_url", "sign_secret"),
    "wechat": ("secret",),
    "wecom_bot": ("webhook_url",),
    "custom": ("url", "headers", "signing_secret"),
}
_URL_FIELDS = frozenset({"webhook_url", "url"})


def parse_channel_config(channel_type: str, config: Mapping[str, Any]) -> ChannelConfig:
    """Validate `config` for `channel_type`.

    Raises `UnknownChannelType` for a type without a model and pydantic's `ValidationError`
    (locations relative to `config`) for invalid settings.
    """
    model = CONFIG_MODELS.get(channel_type)
    if model is None:
        raise UnknownChannelType(channel_type)
    return model.model_validate(dict(config))


def masked(config: ChannelConfig) -> dict[str, Any]:
    """`config` as the API shows it: URLs with their credentials masked, other secrets and
    every custom header value masked."""
    shown = config.model_dump(mode="json")
    for name in SECRET_FIELDS[config.channel_type]:
        value = shown.get(name)
        if value is not None:
            shown[name] = _mask(name, value)
    return shown


def _mask(name: str, value: Any) -> Any:
    if name == "headers":
        return dict.fromkeys(value, MASK)
    if name in _URL_FIELDS:
        return mask_url_credentials(value)
    return mask_secret(value)


def merge_masked(incoming: Mapping[str, Any], stored: ChannelConfig) -> dict[str, Any]:
    """`incoming` settings where every secret sent back masked keeps `stored`'s value.

    A secret equal to what `masked(stored)` shows, or to "****", means "unchanged"; any other
    value replaces the stored one, and a secret left out is removed. Custom headers merge by
    name (ignoring case).
    """
    merged = dict(incoming)
    for name in SECRET_FIELDS[stored.channel_type]:
        current = getattr(stored, name)
        if name not in merged or current is None:
            continue
        if name == "headers":
            merged[name] = _merge_headers(merged[name], current)
        elif merged[name] in (MASK, _mask(name, current)):
            merged[name] = current
    return merged


def _merge_headers(incoming: Any, stored: Mapping[str, str]) -> Any:
    if not isinstance(incoming, Mapping):
        return incoming
    by_name = {name.lower(): value for name, value in stored.items()}
    return {
        name: by_name[name.lower()] if value == MASK and name.lower() in by_name else value
        for name, value in incoming.items()
    }


def secret_values(config: ChannelConfig) -> list[str]:
    """Every credential in `config` in clear, for redacting text that may echo one back.

    URLs contribute themselves and their credential parts (secret-looking query values, the
    Feishu hook token, a userinfo password) because errors often quote only the token.
    Values shorter than 4 characters are left out: redacting them would mangle any text.
    """
    found: list[str] = []
    for name in SECRET_FIELDS[config.channel_type]:
        value = getattr(config, name)
        if value is None:
            continue
        if name == "headers":
            found += [part for v in value.values() for part in _header_credentials(v)]
        elif name in _URL_FIELDS:
            found += [value, *_url_credentials(value)]
        else:
            found.append(value)
    return sorted({v for v in found if len(v) >= 4}, key=len, reverse=True)


# `<auth-scheme> <credentials>`, as in "Bearer abc…" or "Token abc…" (RFC 9110 §11.4).
_SCHEME_AND_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*[ \t]+(\S.*?)\s*")


def _header_credentials(value: str) -> list[str]:
    """A header value and, when it is `<scheme> <credentials>`, the credentials alone:
    receivers rejecting a request often echo just the token they were sent."""
    match = _SCHEME_AND_CREDENTIALS.fullmatch(value.strip())
    return [value, match.group(1)] if match else [value]


def _url_credentials(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [
        v for k, v in parse_qsl(parts.query, keep_blank_values=True) if _SECRET_PARAM.search(k)
    ]
    if parts.password:
        found.append(unquote(parts.password))
    path = parts.path.rstrip("/")
    if "/bot/v2/hook/" in path:  # Feishu and Lark put the bot's token in the path
        found.append(unquote(path.rsplit("/", 1)[-1]))
    # Parts of a URL are credentials only if they look like one: redacting a short word such
    # as a path segment or a query value "1" would mangle every message that contains it.
    return [v for v in found if len(v) >= MIN_URL_CREDENTIAL]


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

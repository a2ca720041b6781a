"""Validated field types for channel settings, each failing with a message a person can act on.

Bounds keep stored settings small (URLs 2048, secrets 512, ids 128 characters, 50 headers of
4096, 100 mentions); custom headers may not touch the connection or Standard Webhooks headers.
Values that still hold the API's "****" mask are refused so a mask is never stored as a secret.

Some rules only judge new input: validated with the context `{"stored": True}` (settings read
back from the store), a URL's host spelling and a zero retry interval are let through, so
configs saved before those rules existed stay readable (the egress guard still vets them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from herald.domain.shapes import JsonInt
from herald.security.host_forms import host_form_problem
from herald.security.signing import decode_webhook_secret

MASK = "****"
MAX_URL = 2048
MAX_SECRET = 512
MAX_ID = 128
MAX_HEADER_VALUE = 4096
MAX_HEADERS = 50
MAX_MENTIONS = 100

# Headers that describe the connection or the framing: aiohttp owns them, and letting a user
# set them opens request smuggling and routing tricks.
FORBIDDEN_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
    | {"content-length"}
)
RESERVED_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 7230 token
_MENTION_ID = re.compile(r"[A-Za-z0-9_\-@.:]+")
_MOBILE = re.compile(r"\+?[0-9][0-9\- ]{2,19}")
# Header names that carry credentials by convention: Authorization, Proxy-Authorization,
# Cookie, and the API-key family (X-Api-Key, X-Auth-Token, X-Hub-Signature, X-Session-Id, …).
_CREDENTIAL_HEADER = re.compile(
    r"auth|token|secret|key|signature|passw|pwd|credential|session|cookie", re.IGNORECASE
)


def is_credential_header(name: str) -> bool:
    """Whether a header's value is a credential because of its name: names containing auth,
    token, secret, key, signature, passw, pwd, credential, session or cookie (any case).
    Other headers are ordinary text unless the channel lists them in `secret_headers`."""
    return bool(_CREDENTIAL_HEADER.search(name))


def saving(info: ValidationInfo) -> bool:
    """False when the settings are read back from the store (see the module docstring)."""
    return not (isinstance(info.context, dict) and info.context.get("stored"))


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _empty_is_none(value: Any) -> Any:
    """Forms send "" for a field left blank; treat it as not set."""
    return None if value == "" else value


def _not_masked(value: str) -> str:
    if MASK in value:
        raise _error(
            "masked_value",
            "this looks like a masked value (****); send the real value, or send back exactly "
            "what the API showed to keep the stored one",
        )
    return value


def _http_url(example: str) -> AfterValidator:
    def check(value: str, info: ValidationInfo) -> str:
        hint = f"{info.field_name or 'the URL'} must be an http(s) URL such as {example}"
        if any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise _error("http_url", f"{hint}; it contains spaces or control characters")
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            raise _error("http_url", hint) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise _error("http_url", hint)
        problem = host_form_problem(value) if saving(info) else None
        if problem:
            raise _error("http_url", problem)
        return _not_masked(value)

    return AfterValidator(check)


def _mention_id(value: str) -> str:
    if not _MENTION_ID.fullmatch(value):
        raise _error("mention_id", f"{value!r} is not a user id (letters, digits, _ - @ . :)")
    return value


def _mobile(value: str) -> str:
    if not _MOBILE.fullmatch(value):
        raise _error("mobile", f"{value!r} is not a phone number such as 13800000000")
    return value


def _ding_secret(value: str) -> str:
    if not value.startswith("SEC"):
        raise _error(
            "sign_secret",
            "sign_secret must be the robot's signing secret, which starts with SEC "
            "(DingTalk robot settings → 安全设置 → 加签)",
        )
    return value


def _strict_int(value: Any) -> Any:
    # The PRD types agent_id as int64; "1000002" in JSON is most likely a form bug, not intent.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(
            "int_type",
            "agent_id must be an integer: the AgentId shown on the app's page in the WeCom "
            "admin console, e.g. 1000002",
        )
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _api_base(value: str) -> str:
    parts = urlsplit(value)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise _error(
            "api_base", "api_base must be scheme://host[:port][/prefix] without a query or fragment"
        )
    return value.rstrip("/")


def _whsec(value: str) -> str:
    try:
        key = decode_webhook_secret(value)
    except ValueError:
        key = b""
    if not value.startswith("whsec_") or len(key) < 16:
        raise _error(
            "signing_secret",
            "signing_secret must be a Standard Webhooks secret: whsec_ followed by the base64 "
            "of 16-64 random bytes",
        )
    return value


def _recipients(limit: int, what: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        ids = [part for part in (value or "").split("|") if part]
        if len(ids) > limit:
            raise _error("recipients", f"at most {limit} {what} separated by |, got {len(ids)}")
        if any(len(part) > MAX_ID or part != part.strip() for part in ids):
            raise _error("recipients", f"each of the {what} must be 1-{MAX_ID} characters")
        return value

    return AfterValidator(check)


def _headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_HEADERS:
        raise _error("headers", f"at most {MAX_HEADERS} headers, got {len(value)}")
    seen: set[str] = set()
    for name, header_value in value.items():
        _check_header(name, header_value)
        if name.lower() in seen:
            raise _error("headers", f"header {name!r} is given twice (names ignore case)")
        seen.add(name.lower())
    return value


def _check_header(name: str, value: str) -> None:
    lowered = name.lower()
    if not _TOKEN.fullmatch(name) or len(name) > MAX_ID:
        raise _error("headers", f"header name {name!r} is not a valid HTTP header name")
    if lowered in FORBIDDEN_HEADERS or lowered.startswith("proxy-"):
        raise _error(
            "headers", f"header {name!r} is controlled by the HTTP connection and cannot be set"
        )
    if lowered in RESERVED_HEADERS:
        raise _error("headers", f"header {name!r} is set by Herald (Standard Webhooks)")
    if any(ch in value for ch in "\r\n\0"):
        raise _error("headers", f"header {name!r} must not contain line breaks or NUL")
    if len(value) > MAX_HEADER_VALUE:
        raise _error("headers", f"header {name!r} is longer than {MAX_HEADER_VALUE} characters")
    _not_masked(value)


def _header_names(value: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in value:
        if not _TOKEN.fullmatch(name) or len(name) > MAX_ID:
            raise _error("secret_headers", f"{name!r} is not a valid HTTP header name")
        if name.lower() in seen:
            raise _error("secret_headers", f"header {name!r} is listed twice (names ignore case)")
        seen.add(name.lower())
    return value


def _retry_interval(value: int, info: ValidationInfo) -> int:
    if value < 1 and saving(info):
        raise _error(
            "retry_interval",
            "retry_interval must be at least 1 second: retrying a failing endpoint at once "
            "only adds load while it recovers",
        )
    return value


def _unsigned_dingtalk(value: str) -> str:
    names = {name for name, _ in parse_qsl(urlsplit(value).query, keep_blank_values=True)}
    if names & {"timestamp", "sign"}:
        raise _error(
            "webhook_url",
            "webhook_url must be the robot's plain URL without timestamp/sign parameters; put "
            "the SEC… secret in sign_secret and Herald signs every message",
        )
    return value


FEISHU_EXAMPLE = "https://open.feishu.cn/open-apis/bot/v2/hook/…"
DINGTALK_EXAMPLE = "https://oapi.dingtalk.com/robot/send?access_token=…"
WECOM_BOT_EXAMPLE = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"


def _optional(check: Callable[[str], str]) -> AfterValidator:
    return AfterValidator(lambda value: None if value is None else check(value))


Secret = Annotated[
    Annotated[str, Field(min_length=1, max_length=MAX_SECRET)] | None,
    BeforeValidator(_empty_is_none),
    _optional(_not_masked),
]
Recipients = Annotated[
    Annotated[str, Field(max_length=14_000)] | None, BeforeValidator(_empty_is_none)
]
FeishuUrl = Annotated[str, Field(max_length=MAX_URL), _http_url(FEISHU_EXAMPLE)]
DingTalkUrl = Annotated[str, Field(max_length=MAX_URL), _http_url(DINGTALK_EXAMPLE)]
WeComBotUrl = Annotated[str, Field(max_length=MAX_URL), _http_url(WECOM_BOT_EXAMPLE)]
MentionId = Annotated[str, Field(min_length=1, max_length=MAX_ID), AfterValidator(_mention_id)]
Mobile = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_mobile)]


def mentions() -> Any:
    """A list of mention ids, empty by default, at most MAX_MENTIONS long."""
    return Field(default_factory=list, max_length=MAX_MENTIONS)


# -- the field types the models use -------------------------------------------------------------

DingTalkWebhook = Annotated[DingTalkUrl, AfterValidator(_unsigned_dingtalk)]
DingTalkSecret = Annotated[Secret, _optional(_ding_secret)]
CorpId = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
AgentId = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=2**63 - 1)]
AppSecret = Annotated[str, Field(min_length=1, max_length=MAX_SECRET), AfterValidator(_not_masked)]
ToUser = Annotated[str, Field(max_length=70_000), _recipients(1000, "users")]
ToParty = Annotated[Recipients, _recipients(100, "parties")]
ToTag = Annotated[Recipients, _recipients(100, "tags")]
ApiBase = Annotated[
    str,
    Field(max_length=MAX_URL),
    _http_url("https://qyapi.weixin.qq.com"),
    AfterValidator(_api_base),
]
CustomUrl = Annotated[
    str, Field(max_length=MAX_URL), _http_url("https://ci.example.com/herald-hook")
]
Method = Annotated[Literal["POST", "PUT"], BeforeValidator(_upper)]
Headers = Annotated[dict[str, str], AfterValidator(_headers)]
HeaderNames = Annotated[list[str], Field(max_length=MAX_HEADERS), AfterValidator(_header_names)]
RetryInterval = Annotated[JsonInt, Field(ge=0, le=3600), AfterValidator(_retry_interval)]
SigningSecret = Annotated[Secret, _optional(_whsec)]

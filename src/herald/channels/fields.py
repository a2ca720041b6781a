"""Validated field types shared by channel settings, each failing with a message a person can act
on. Field types only one platform uses live in that platform's module.

Bounds keep stored settings small (URLs 2048, secrets 512, ids 128 characters, 50 headers of
4096, 100 mentions); headers may not touch the connection or Standard Webhooks headers.
Values that still hold the API's "****" mask are refused so a mask is never stored as a secret.

Some rules only judge new input: validated with the context `{"stored": True}` (settings read
back from the store), a URL's host spelling (and rules that use `saving`) are let through, so
configs saved before those rules existed stay readable (the egress guard still vets them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from herald.channels.config_base import SecretValue
from herald.security.host_forms import host_form_problem

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
# Header names that carry credentials by convention: Authorization, Proxy-Authorization,
# Cookie, and the API-key family (X-Api-Key, X-Auth-Token, X-Hub-Signature, X-Session-Id, …).
_CREDENTIAL_HEADER = re.compile(
    r"auth|token|secret|key|signature|passw|pwd|credential|session|cookie", re.IGNORECASE
)


def is_credential_header(name: str) -> bool:
    """Whether a header's value is a credential because of its name: names containing auth,
    token, secret, key, signature, passw, pwd, credential, session or cookie (any case).
    Other headers are ordinary text unless the channel lists them (see `SecretHeaders`)."""
    return bool(_CREDENTIAL_HEADER.search(name))


def saving(info: ValidationInfo) -> bool:
    """False when the settings are read back from the store (see the module docstring)."""
    return not (isinstance(info.context, dict) and info.context.get("stored"))


def field_error(kind: str, message: str) -> PydanticCustomError:
    """A validation error of type `kind` whose message is shown to people as it is."""
    return PydanticCustomError(kind, message)


def empty_is_none(value: Any) -> Any:
    """Forms send "" for a field left blank; treat it as not set."""
    return None if value == "" else value


def not_masked(value: str) -> str:
    """`value`, unless it holds the API's mask (a masked value sent back where it cannot be)."""
    if MASK in value:
        raise field_error(
            "masked_value",
            "this looks like a masked value (****); send the real value, or send back exactly "
            "what the API showed to keep the stored one",
        )
    return value


def http_url(example: str) -> AfterValidator:
    """An http(s) URL with a host written plainly; errors quote `example`."""

    def check(value: str, info: ValidationInfo) -> str:
        hint = f"{info.field_name or 'the URL'} must be an http(s) URL such as {example}"
        if any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise field_error("http_url", f"{hint}; it contains spaces or control characters")
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            raise field_error("http_url", hint) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise field_error("http_url", hint)
        problem = host_form_problem(value) if saving(info) else None
        if problem:
            raise field_error("http_url", problem)
        return not_masked(value)

    return AfterValidator(check)


def optional(check: Callable[[str], str]) -> AfterValidator:
    """`check` applied to a value that is set (None passes)."""
    return AfterValidator(lambda value: None if value is None else check(value))


def _mention_id(value: str) -> str:
    if not _MENTION_ID.fullmatch(value):
        raise field_error("mention_id", f"{value!r} is not a user id (letters, digits, _ - @ . :)")
    return value


def mentions() -> Any:
    """A list of mention ids, empty by default, at most MAX_MENTIONS long."""
    return Field(default_factory=list, max_length=MAX_MENTIONS)


def _headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_HEADERS:
        raise field_error("headers", f"at most {MAX_HEADERS} headers, got {len(value)}")
    seen: set[str] = set()
    for name, header_value in value.items():
        _check_header(name, header_value)
        if name.lower() in seen:
            raise field_error("headers", f"header {name!r} is given twice (names ignore case)")
        seen.add(name.lower())
    return value


def _check_header(name: str, value: str) -> None:
    lowered = name.lower()
    if not _TOKEN.fullmatch(name) or len(name) > MAX_ID:
        raise field_error("headers", f"header name {name!r} is not a valid HTTP header name")
    if lowered in FORBIDDEN_HEADERS or lowered.startswith("proxy-"):
        raise field_error(
            "headers", f"header {name!r} is controlled by the HTTP connection and cannot be set"
        )
    if lowered in RESERVED_HEADERS:
        raise field_error("headers", f"header {name!r} is set by Herald (Standard Webhooks)")
    if any(ch in value for ch in "\r\n\0"):
        raise field_error("headers", f"header {name!r} must not contain line breaks or NUL")
    if len(value) > MAX_HEADER_VALUE:
        raise field_error(
            "headers", f"header {name!r} is longer than {MAX_HEADER_VALUE} characters"
        )
    not_masked(value)


def _header_names(value: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in value:
        if not _TOKEN.fullmatch(name) or len(name) > MAX_ID:
            raise field_error("secret_headers", f"{name!r} is not a valid HTTP header name")
        if name.lower() in seen:
            raise field_error(
                "secret_headers", f"header {name!r} is listed twice (names ignore case)"
            )
        seen.add(name.lower())
    return value


# -- the shared field types ---------------------------------------------------------------------

# An optional secret text ("" from a form means not set).
Secret = Annotated[
    Annotated[str, Field(min_length=1, max_length=MAX_SECRET)] | None,
    BeforeValidator(empty_is_none),
    optional(not_masked),
    SecretValue(),
]
RequiredSecret = Annotated[
    str, Field(min_length=1, max_length=MAX_SECRET), AfterValidator(not_masked), SecretValue()
]
MentionId = Annotated[str, Field(min_length=1, max_length=MAX_ID), AfterValidator(_mention_id)]
Headers = Annotated[dict[str, str], AfterValidator(_headers)]
HeaderNames = Annotated[list[str], Field(max_length=MAX_HEADERS), AfterValidator(_header_names)]

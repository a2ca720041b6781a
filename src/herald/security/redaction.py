"""Keeping secrets out of what people see: masks for API answers and history, redaction of free
text (error messages, response bodies) that may echo a secret back.

``mask_secret`` for a single value, ``mask_url_credentials`` for webhook URLs, ``redact_text``
for free text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

__all__ = ["MASK", "mask_secret", "mask_url_credentials", "redact_text", "url_credentials"]

MASK = "****"


def mask_secret(value: str) -> str:
    """Return ``"****"``, plus the last 4 characters when ``value`` has at least 12."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


# Query parameters holding credentials: names containing these words, and Azure SAS's `sig`.
_SECRET_PARAM = re.compile(
    r"token|key|sign|secret|passw|pwd|auth|credential|session|^sig$", re.IGNORECASE
)
_PATH_TOKENS = (
    re.compile(r"(/open-apis/bot/v2/hook/)([^/]+)"),  # Feishu / Lark
    re.compile(r"^(/services/[^/]+/[^/]+/)([^/]+)"),  # Slack incoming webhook
    re.compile(r"^(/api(?:/v\d+)?/webhooks/[^/]+/)([^/]+)"),  # Discord
)


def _masked_component(encoded: str) -> str:
    return quote(mask_secret(unquote(encoded)), safe="*")


def _mask_netloc(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon:
        return netloc
    return f"{user}:{_masked_component(password)}@{hostport}"


def _mask_query(query: str) -> str:
    pieces = []
    for piece in query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and value and _SECRET_PARAM.search(unquote_plus(name)):
            piece = f"{name}={quote(mask_secret(unquote_plus(value)), safe='*')}"
        pieces.append(piece)
    return "&".join(pieces)


def _mask_path(path: str) -> str:
    for pattern in _PATH_TOKENS:
        path = pattern.sub(lambda m: m.group(1) + _masked_component(m.group(2)), path)
    return path


@functools.lru_cache(maxsize=4096)
def mask_url_credentials(url: str) -> str:
    """Return ``url`` with its secret-bearing parts masked by ``mask_secret``.

    Masks the userinfo password, the value of every query parameter whose name
    looks secret (access_token, key, token, sign, secret, password, signature,
    auth, session, credential, and `sig`), the Feishu/Lark
    ``/open-apis/bot/v2/hook/<token>`` segment and
    the Slack/Discord webhook tokens. Never raises: an unparseable URL becomes
    ``"****"``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    return urlunsplit(
        (
            parts.scheme,
            _mask_netloc(parts.netloc),
            _mask_path(parts.path),
            _mask_query(parts.query),
            parts.fragment,
        )
    )


def url_credentials(url: str) -> list[str]:
    """The clear values of the parts ``mask_url_credentials`` masks in ``url`` (decoded): the
    userinfo password, secret-looking query values and known path tokens. Empty values are
    left out; an unparseable URL has none."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [unquote(password)] if password else []
    for piece in parts.query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and value and _SECRET_PARAM.search(unquote_plus(name)):
            found.append(unquote_plus(value))
    for pattern in _PATH_TOKENS:
        found += [unquote(m.group(2)) for m in pattern.finditer(parts.path)]
    return found


def _encoded_forms(secret: str) -> set[str]:
    json_escaped = json.dumps(secret)[1:-1]
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret, safe=""),
        json_escaped,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json_escaped.replace("/", "\\/"),
    }
    # Percent-encoding is case-insensitive; some encoders emit lower-case hex.
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return forms


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``"****"``.

    Also replaces the secret's URL-encoded and JSON-escaped forms, since error
    messages often echo a URL or a JSON body. Empty secrets are ignored.
    """
    pattern = _redaction_pattern(frozenset(s for s in secrets if s))
    return text if pattern is None else pattern.sub(MASK, text)


@functools.lru_cache(maxsize=1024)
def _redaction_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    """Compiled once per set of secrets: the delivery path redacts every attempt."""
    forms: set[str] = set()
    for secret in secrets:
        forms |= _encoded_forms(secret)
    if not forms:
        return None
    # Longest first, so a form is not half-replaced by a shorter one it contains.
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))

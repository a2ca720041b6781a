"""Signatures for outbound notifications: Feishu, DingTalk and Standard Webhooks.

Pure functions over the standard library. Each one reproduces the published
test vectors in ``platforms.md`` (§1.3, §2.3) and ``delivery.md`` (§3); the
tests in ``tests/security`` pin them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl, quote

__all__ = [
    "WEBHOOK_SECRET_PREFIX",
    "decode_webhook_secret",
    "dingtalk_sign",
    "dingtalk_signed_url",
    "feishu_sign",
    "new_webhook_secret",
    "standard_webhook_headers",
    "standard_webhook_signature",
]

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret


def _b64_hmac_sha256(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def feishu_sign(secret: str, timestamp: int) -> str:
    """Return the Feishu/Lark bot ``sign`` for ``timestamp`` (Unix **seconds**).

    Feishu uses ``f"{timestamp}\\n{secret}"`` as the HMAC-SHA256 *key* and an
    empty message; the result is standard padded base64, sent in the JSON body
    next to ``timestamp`` without any URL-encoding.
    """
    key = f"{timestamp}\n{secret}".encode()
    return _b64_hmac_sha256(key, b"")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Return the raw (not URL-encoded) DingTalk robot signature.

    ``timestamp_ms`` is Unix time in **milliseconds**. The key is the secret
    (including its ``SEC`` prefix) and the message is ``f"{ts}\\n{secret}"``.
    """
    message = f"{timestamp_ms}\n{secret}".encode()
    return _b64_hmac_sha256(secret.encode(), message)


def dingtalk_signed_url(webhook_url: str, secret: str, timestamp_ms: int) -> str:
    """Append ``timestamp`` and ``sign`` to a DingTalk webhook URL.

    The existing query (``access_token=…``) and any fragment are kept
    byte-for-byte: the parameters are appended as text rather than re-encoding
    the URL, because re-encoding is how double-encoded signatures (DingTalk
    error 310000) happen. The signature is percent-encoded exactly once, so
    ``+``, ``/`` and ``=`` become ``%2B``, ``%2F`` and ``%3D``.

    Raises ``ValueError`` if the URL already carries ``timestamp`` or ``sign``
    (a stored URL must be the unsigned one, or the receiver sees two values).
    """
    base, hash_mark, fragment = webhook_url.partition("#")
    _, question_mark, query = base.partition("?")
    existing = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    if existing & {"timestamp", "sign"}:
        raise ValueError("DingTalk webhook URL already contains timestamp/sign parameters")
    if not question_mark:
        separator = "?"
    elif query and not query.endswith("&"):
        separator = "&"
    else:
        separator = ""
    sign = quote(dingtalk_sign(secret, timestamp_ms), safe="")
    return f"{base}{separator}timestamp={timestamp_ms}&sign={sign}{hash_mark}{fragment}"


def decode_webhook_secret(secret: str) -> bytes:
    """Decode a Standard Webhooks secret (``whsec_`` + base64) to the HMAC key.

    The prefix is optional and missing base64 padding is tolerated, as in the
    reference libraries. Raises ``ValueError`` for an empty secret (``""`` or
    ``"whsec_"``) or one that is not base64.
    """
    body = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    if not body:
        raise ValueError("webhook secret is empty")
    padded = body + "=" * (-len(body) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret is not valid base64 after the whsec_ prefix") from exc


def standard_webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value ``v1,<base64 HMAC-SHA256>``.

    The signed content is ``f"{msg_id}.{timestamp}."`` followed by the exact
    body bytes. ``msg_id`` must not contain ``.``: the receiver cannot tell
    where the id ends otherwise, so such ids are rejected with ``ValueError``.
    """
    if "." in msg_id:
        raise ValueError("webhook message id must not contain '.'")
    key = decode_webhook_secret(secret)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + _b64_hmac_sha256(key, signed)


def standard_webhook_headers(
    secret: str | None, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Return the Standard Webhooks headers for one delivery attempt.

    ``webhook-id`` and ``webhook-timestamp`` are always present;
    ``webhook-signature`` only when ``secret`` is given (an endpoint without a
    secret gets unsigned requests, never a signature under an empty key).
    Call once per attempt with the attempt's own time, as Svix does.
    """
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret is not None:
        headers["webhook-signature"] = standard_webhook_signature(secret, msg_id, timestamp, body)
    return headers


def new_webhook_secret() -> str:
    """Return a fresh secret: ``whsec_`` + base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")

"""Verify Herald webhooks (Standard Webhooks, ``v1`` HMAC-SHA256) in a receiver.

This module is self-contained on purpose: it uses only the Python standard
library and nothing from ``herald``, so you can copy this single file into
your service. Usage::

    from verify import WebhookVerificationError, verify_webhook

    try:
        verify_webhook(secret, request.headers, raw_body)
    except WebhookVerificationError as exc:
        return 400, f"bad webhook: {exc.reason}"

Pass the raw request body bytes exactly as received (before JSON parsing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["WebhookVerificationError", "verify_webhook"]

_PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    """The request is not an authentic, fresh webhook; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _decode_secret(secret: str) -> bytes:
    body = secret.removeprefix(_PREFIX)
    if not body:
        raise ValueError("webhook secret is empty")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret is not valid base64 after the whsec_ prefix") from exc


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise WebhookVerificationError(f"missing {name} header")
    return value


def _check_timestamp(raw: str, tolerance: int, now: float) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise WebhookVerificationError("invalid webhook-timestamp header")
    timestamp = int(raw)
    if timestamp < now - tolerance:
        raise WebhookVerificationError("message timestamp too old")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("message timestamp too new")
    return timestamp


def _expected_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def _any_v1_matches(header: str, expected: bytes) -> bool:
    matched = False
    for entry in header.split(" "):
        version, comma, signature = entry.partition(",")
        if comma and version == "v1":
            # Keep comparing after a hit so timing does not reveal which entry matched.
            matched |= hmac.compare_digest(signature.encode(), expected)
    return matched


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Return ``None`` if the webhook is authentic and fresh, else raise.

    - ``secret``: the endpoint secret, ``whsec_<base64>`` (prefix optional,
      missing base64 padding tolerated). An empty or malformed secret is a
      configuration bug and raises ``ValueError``, not a verification error.
    - ``headers``: any mapping; names are matched case-insensitively.
    - ``body``: the raw body bytes.
    - ``tolerance``: allowed clock difference in seconds, in both directions.
    - ``now``: current Unix time, for tests; defaults to ``time.time()``.

    Raises ``WebhookVerificationError`` when a header is missing, the timestamp
    is outside ``tolerance``, or no ``v1`` signature in the space-separated
    ``webhook-signature`` list matches (other versions are ignored).
    """
    key = _decode_secret(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = _required(lowered, "webhook-id")
    raw_timestamp = _required(lowered, "webhook-timestamp")
    signature_header = _required(lowered, "webhook-signature")
    current = time.time() if now is None else now
    timestamp = _check_timestamp(raw_timestamp, tolerance, current)
    expected = _expected_signature(key, msg_id, timestamp, body)
    if not _any_v1_matches(signature_header, expected):
        raise WebhookVerificationError("no matching signature")

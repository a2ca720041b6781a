"""What a source module returns: a translation of one platform request, or a refusal."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Refused(Exception):
    """The request is not accepted; `status` (a 4xx) and `code` go back to the platform."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unauthorised(message: str) -> Refused:
    return Refused(401, "bad_signature", message)


def malformed(message: str) -> Refused:
    return Refused(422, "unusable_payload", message)


@dataclass(frozen=True)
class SourceKind:
    """One platform: how its requests are verified and what they announce."""

    verify: Callable[[str, Mapping[str, str], bytes], None]
    translate: Callable[[Mapping[str, str], Mapping[str, Any]], Translation]


@dataclass(frozen=True)
class Translation:
    """One platform request as Herald reads it.

    `event` is the external-event body without `project` (the source's project fills it), or
    None when the request is understood but announces no release moment (a ping, a queued
    status); then `ignored` says why.
    """

    platform_event: str
    event: dict[str, Any] | None = None
    ignored: str = ""
    delivery_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two texts (as UTF-8 bytes)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def hmac_hex(secret: str, body: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def text(obj: Mapping[str, Any], *path: str, required: bool = False) -> str | None:
    """The string at `path` inside `obj` (None if absent or empty); `malformed` if required."""
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value:
        return value
    if required:
        raise malformed(f"the payload has no {'.'.join(path)}")
    return None


def context(**fields: Any) -> dict[str, Any]:
    """A release context with the empty fields left out."""
    return {k: v for k, v in fields.items() if v not in (None, "", [], {})}


def iso(value: str | None, formats: tuple[str, ...] = ()) -> str | None:
    """`value` as ISO-8601 if it is ISO already or matches one of `formats`; else None."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    for fmt in formats:
        try:
            return dt.datetime.strptime(value, fmt).astimezone(dt.UTC).isoformat()
        except ValueError:
            continue
    return None

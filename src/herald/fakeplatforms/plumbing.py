"""Plumbing shared by the platform fakes: context, replies, recording and body helpers."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from herald.fakeplatforms.platform_limits import Clock, Limits
from herald.fakeplatforms.records import Platform, RecordedRequest, Recorder


@dataclass(slots=True)
class FakeContext:
    """State every fake shares. `lock` guards all registrations and dynamic state because a
    `FakePlatformsThread` handle mutates them from the test thread while the loop serves."""

    clock: Clock
    limits: Limits
    recorder: Recorder = field(default_factory=Recorder)
    lock: threading.RLock = field(default_factory=threading.RLock)


@dataclass(frozen=True, slots=True)
class Reply:
    """A platform's answer before it becomes an HTTP response.

    `code` is the business code for the record (None when the shape has none).
    """

    payload: dict[str, Any]
    code: int | None
    status: int = 200
    delivered: bool = False
    dropped: tuple[str, ...] = ()
    note: str = ""


def parse_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not UTF-8 JSON whose top level is an object."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def utf8_len(text: str) -> int:
    """Length in UTF-8 bytes — the unit every Chinese platform's size limit uses."""
    return len(text.encode("utf-8"))


def ip_allowed(remote: str | None, allowlist: Iterable[str]) -> bool:
    """True if the allowlist is empty or `remote` matches an entry.

    Entries are exact addresses, CIDR ranges (`10.0.0.0/8`) or trailing wildcards
    (`123.12.1.*`), the forms Feishu and DingTalk accept.
    """
    entries = list(allowlist)
    if not entries:
        return True
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(_matches(address, entry) for entry in entries)


def _matches(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    if "*" in entry:
        prefix = entry.split("*", 1)[0]
        return str(address).startswith(prefix)
    try:
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


def iter_text_values(value: Any, keys: frozenset[str], key: str | None = None) -> Iterator[str]:
    """Yield every string reachable in `value` whose enclosing dict key is in `keys`.

    URLs and ids live under other keys (`href`, `url`, `image_key`), so keyword filters that
    only look at text-like keys ignore them, as the platforms do.
    """
    if isinstance(value, str):
        if key in keys:
            yield value
    elif isinstance(value, dict):
        for child_key, child in value.items():
            yield from iter_text_values(child, keys, str(child_key))
    elif isinstance(value, list):
        for child in value:
            yield from iter_text_values(child, keys, key)


def has_keyword(texts: Iterable[str], keywords: Iterable[str]) -> bool:
    """True if no keywords are configured or some text contains some keyword (case-sensitive)."""
    wanted = [k for k in keywords if k]
    if not wanted:
        return True
    corpus = list(texts)
    return any(k in text for k in wanted for text in corpus)


def record_reply(
    ctx: FakeContext,
    platform: Platform,
    key: str,
    request: web.Request,
    body: bytes,
    reply: Reply,
) -> None:
    """Append the request and its answer to the log; the caller holds `ctx.lock`."""
    now = ctx.clock()
    ctx.recorder.add(
        RecordedRequest(
            platform=platform,
            key=key,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            json=parse_object(body),
            received_at=now,
            answered_at=now,
            status=reply.status,
            code=reply.code,
            response=reply.payload,
            delivered=reply.delivered,
            dropped=reply.dropped,
            note=reply.note,
        )
    )


def to_response(reply: Reply) -> web.Response:
    """JSON response with the platforms' compact, non-ASCII-preserving encoding."""
    text = json.dumps(reply.payload, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=text, status=reply.status, content_type="application/json")

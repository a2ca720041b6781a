"""Programmable custom webhook receiver: `ANY /hook/{name}` for the delivery engine's tests.

Each name has a script of `Behaviour`s: the n-th request gets the n-th behaviour and the last
one repeats, so `[with_status(500), with_status(500), ok()]` fails twice then succeeds.
Unregistered names answer 404. Every request is recorded when it arrives (before any hang),
and when a `whsec_` secret is set its Standard Webhooks signature is checked and recorded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from aiohttp import web

from herald.fakeplatforms.plumbing import FakeContext, parse_object
from herald.fakeplatforms.records import Platform, RecordedRequest

Mode = Literal["ok", "status", "hang", "reset", "garbage", "redirect"]
HOOK_PATH = "/hook/{name}"
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the endpoint answers one request; build with the static constructors."""

    mode: Mode = "ok"
    status: int = 204
    body: bytes = b""
    content_type: str | None = None
    retry_after: str | None = None
    seconds: float = 0.0
    location: str = ""
    then: Behaviour | None = None

    @staticmethod
    def ok(status: int = 204, body: bytes = b"") -> Behaviour:
        """Success: 204 by default, or 200 with an optional body."""
        return Behaviour("ok", status=status, body=body)

    @staticmethod
    def with_status(
        status: int,
        body: bytes | str = b"",
        retry_after: float | str | None = None,
        content_type: str | None = None,
    ) -> Behaviour:
        """Any HTTP status, optional body and optional `Retry-After` header value."""
        raw = body.encode() if isinstance(body, str) else body
        after = None if retry_after is None else _header_number(retry_after)
        return Behaviour("status", status, raw, content_type, after)

    @staticmethod
    def hang(seconds: float, then: Behaviour | None = None) -> Behaviour:
        """Sleep `seconds` (real time), then answer as `then` (default: `ok()`)."""
        return Behaviour("hang", seconds=seconds, then=then)

    @staticmethod
    def reset() -> Behaviour:
        """Abort the TCP connection without sending any response bytes."""
        return Behaviour("reset")

    @staticmethod
    def garbage(body: bytes = GARBAGE) -> Behaviour:
        """HTTP 200 whose body is not JSON."""
        return Behaviour("garbage", status=200, body=body, content_type="text/html")

    @staticmethod
    def redirect(location: str, status: int = 302) -> Behaviour:
        """A redirect to `location` (302 by default)."""
        return Behaviour("redirect", status=status, location=location)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Behaviour:
        """Build from the control API form, e.g. {"mode": "status", "status": 503,
        "retry_after": 5, "body": "busy"} or {"mode": "hang", "seconds": 2, "then": {...}}."""
        mode = data.get("mode", "ok")
        if mode not in get_args(Mode):
            raise ValueError(f"unknown endpoint mode {mode!r}")
        body = str(data.get("body", "")).encode()
        if mode == "ok":
            return Behaviour.ok(int(data.get("status", 204)), body)
        if mode == "status":
            return Behaviour.with_status(
                int(data["status"]), body, data.get("retry_after"), data.get("content_type")
            )
        if mode == "hang":
            then = data.get("then")
            follow = Behaviour.from_json(then) if isinstance(then, Mapping) else None
            return Behaviour.hang(float(data["seconds"]), follow)
        if mode == "redirect":
            return Behaviour.redirect(str(data["location"]), int(data.get("status", 302)))
        return Behaviour.garbage(body or GARBAGE) if mode == "garbage" else Behaviour.reset()


UNKNOWN_ENDPOINT = Behaviour.with_status(
    404, b'{"error":"unknown endpoint"}', content_type="application/json"
)
BAD_SIGNATURE = Behaviour.with_status(
    401, b'{"error":"invalid signature"}', content_type="application/json"
)


def _header_number(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """One named endpoint: its behaviour script and optional Standard Webhooks secret.

    With `enforce_signature`, a request whose signature is invalid gets 401 (and does not
    advance the script); otherwise validity is only recorded.
    """

    name: str
    script: tuple[Behaviour, ...] = (Behaviour(),)
    secret: str | None = None
    enforce_signature: bool = False


def verify_standard_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bool:
    """Standard Webhooks check: HMAC-SHA256 over f"{id}.{ts}." + body, key = base64-decoded
    secret after `whsec_`, header holding space-separated `v1,<base64>` entries, and a
    timestamp within ±tolerance seconds of `now`. Any matching v1 entry passes."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not stamp.isascii() or not stamp.isdigit() or not signatures:
        return False
    if abs(now - int(stamp)) > tolerance:
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [entry.partition(",") for entry in signatures.split()]
    return any(v == "v1" and hmac.compare_digest(sig, expected) for v, _, sig in offered)


class EndpointFake:
    """Named endpoint scripts, their positions, and the aiohttp handler."""

    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._configs: dict[str, EndpointConfig] = {}
        self._served: dict[str, int] = {}
        self._serving: Counter[str] = Counter()  # requests being answered now, per name
        self._peak: Counter[str] = Counter()  # the most ever answered at once, per name

    def max_in_flight(self, name: str) -> int:
        with self._ctx.lock:
            return self._peak[name]

    def set_endpoint(self, config: EndpointConfig) -> None:
        """Install (or replace) the script for `config.name` and restart it from the top."""
        if not config.script:
            raise ValueError("an endpoint script needs at least one behaviour")
        with self._ctx.lock:
            self._configs[config.name] = config
            self._served[config.name] = 0

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._served = dict.fromkeys(self._served, 0)
            self._peak.clear()
            if not keep_registrations:
                self._configs.clear()
                self._served.clear()

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", HOOK_PATH, self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        with self._ctx.lock:
            self._serving[name] += 1
            self._peak[name] = max(self._peak[name], self._serving[name])
        try:
            return await self._handle(request, name)
        finally:
            with self._ctx.lock:
                self._serving[name] -= 1

    async def _handle(self, request: web.Request, name: str) -> web.StreamResponse:
        body = await request.read()
        with self._ctx.lock:
            record = self._record(request, name, body)
            behaviour = self._next_behaviour(name, record)
            # Visible during a hang, and kept if the client gives up before the answer.
            record.note = behaviour.mode
        prefix = ""
        if behaviour.mode == "hang":
            await asyncio.sleep(behaviour.seconds)
            behaviour = behaviour.then or Behaviour.ok()
            prefix = "hang, then "
        if behaviour.mode == "reset":
            if request.transport is not None:
                request.transport.abort()
            self._finish(record, None, prefix + "reset")
            # aiohttp drops this response: the transport is already gone.
            return web.Response(status=204)
        response = _respond(behaviour)
        self._finish(record, response.status, prefix + behaviour.mode)
        return response

    def _record(self, request: web.Request, name: str, body: bytes) -> RecordedRequest:
        headers = {k.lower(): v for k, v in request.headers.items()}
        config = self._configs.get(name)
        valid: bool | None = None
        if config is not None and config.secret is not None:
            tolerance = self._ctx.limits.endpoint_signature_tolerance_s
            valid = verify_standard_webhook(
                config.secret, headers, body, self._ctx.clock(), tolerance
            )
        record = RecordedRequest(
            platform=Platform.ENDPOINT,
            key=name,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            body=body,
            json=parse_object(body),
            received_at=self._ctx.clock(),
            signature_valid=valid,
            webhook_id=headers.get("webhook-id"),
        )
        return self._ctx.recorder.add(record)

    def _next_behaviour(self, name: str, record: RecordedRequest) -> Behaviour:
        config = self._configs.get(name)
        if config is None:
            return UNKNOWN_ENDPOINT
        if config.enforce_signature and record.signature_valid is False:
            return BAD_SIGNATURE
        index = self._served[name]
        self._served[name] = index + 1
        return config.script[min(index, len(config.script) - 1)]

    def _finish(self, record: RecordedRequest, status: int | None, note: str) -> None:
        with self._ctx.lock:
            record.status = status
            record.note = note
            record.delivered = status is not None and 200 <= status < 300
            record.answered_at = self._ctx.clock()


def _respond(behaviour: Behaviour) -> web.Response:
    headers: dict[str, str] = {}
    if behaviour.retry_after is not None:
        headers["Retry-After"] = behaviour.retry_after
    if behaviour.mode == "redirect":
        headers["Location"] = behaviour.location
    if behaviour.content_type is not None:
        headers["Content-Type"] = behaviour.content_type
    # A 204 must not carry a body, whatever the script says.
    body = b"" if behaviour.status in (204, 304) else behaviour.body
    return web.Response(status=behaviour.status, body=body, headers=headers)

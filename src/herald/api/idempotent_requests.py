"""The `Idempotency-Key` header on POST requests (herald.access.idempotency decides).

With the header, a POST under /api/v1 is served once per (token, key): a retry with the same
request answers the first 2xx response again (status and body, plus `Idempotency-Replayed:
true`); the same key with another request is a 422; a retry arriving while the first is still
being served waits for it (up to `WAIT_SECONDS`, then a 409 asking to retry). Without the
header nothing changes.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.access.idempotency import (
    IdempotencyService,
    Reservation,
    Verdict,
    fingerprint,
    valid_key,
)
from herald.api.error_responses import error_body

HEADER = b"idempotency-key"
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, service: IdempotencyService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        key = headers.get(HEADER)
        token = _bearer(headers.get(b"authorization", b""))
        if key is None or scope["method"] != "POST" or not token:
            await self.app(scope, receive, send)  # no key, or no token: the route decides
            return
        text = key.decode("latin-1")
        if not valid_key(text):
            await _answer(
                send,
                400,
                _error("bad_request", "Idempotency-Key must be 1-255 printable ASCII characters"),
            )
            return
        body = await _read_body(receive)
        request = fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), body
        )
        held, found = await self._reserve(token, text, request)
        if found.verdict is Verdict.NEW:
            await self._serve(scope, body, send, held)
        elif found.verdict is Verdict.REPLAY:
            await _answer(send, found.status or 200, (found.body or "").encode(), replayed=True)
        elif found.verdict is Verdict.MISMATCH:
            message = (
                "Idempotency-Key was already used with another request; send a new key for a "
                "new request, or the same request to get its first answer again"
            )
            await _answer(send, 422, _error("validation_error", message))
        else:
            message = "a request with this Idempotency-Key is still being served; retry shortly"
            await _answer(send, 409, _error("conflict", message))

    async def _reserve(self, token: str, key: str, request: str) -> tuple[str, Reservation]:
        """Reserve the key, waiting (bounded) while a twin request holds it."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            held, found = await run_in_threadpool(self.service.reserve, token, key, request)
            if found.verdict is not Verdict.IN_FLIGHT or time.monotonic() >= deadline:
                return held, found
            await asyncio.sleep(POLL_SECONDS)

    async def _serve(self, scope: Scope, body: bytes, send: Send, held: str) -> None:
        status = 500
        chunks: list[bytes] = []
        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await run_in_threadpool(self.service.release, held)
            raise
        if 200 <= status < 300:
            answer = b"".join(chunks).decode("utf-8", "replace")
            await run_in_threadpool(self.service.complete, held, status, answer)
        else:
            await run_in_threadpool(self.service.release, held)


def _bearer(header: bytes) -> str:
    scheme, _, token = header.decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _error(code: str, message: str) -> bytes:
    return json.dumps(error_body(code, message)).encode()


async def _answer(send: Send, status: int, body: bytes, *, replayed: bool = False) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if replayed:
        headers.append((b"idempotency-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""Fake Discord webhooks: `POST /api[/v10]/webhooks/{id}/{token}[?wait=true]`.

Checks (platforms.md §5, §6), answered with Discord's JSON error shape
`{"message", "code"}`: unknown id (404, 10015 Unknown Webhook) → wrong token (401, 50027
Invalid Webhook Token) → a queued forced answer → rate limit, 10 messages per 10 s per
webhook (429 with `retry_after` in seconds, `global: false`, and the `Retry-After` and
`X-RateLimit-*` headers) → JSON object (400, 50109) → content or embeds (400, 50006 Cannot
send an empty message) → limits: content 2000, 10 embeds, title 256, description 4096, 25
fields of 256/1024, footer 2048, 6000 characters per message, `allowed_mentions` well formed
(400, 50035 Invalid Form Body) → 204, or 200 with the message object when `wait=true`.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herald.fakeplatforms.platform_limits import RateLog
from herald.fakeplatforms.plumbing import FakeContext, Reply, parse_object, record_reply
from herald.fakeplatforms.records import Platform

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]
MENTION_PARSE = frozenset({"roles", "users", "everyone"})


@dataclass(frozen=True, slots=True)
class DiscordWebhook:
    webhook_id: str
    token: str
    per_window: int | None = None


class DiscordFake:
    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._hooks: dict[str, DiscordWebhook] = {}
        self._rates: dict[str, RateLog] = {}
        self._forced: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self._next_id = 1_100_000_000_000_000_000

    def add_webhook(self, hook: DiscordWebhook) -> None:
        with self._ctx.lock:
            self._hooks[hook.webhook_id] = hook

    def force(self, webhook_id: str, status: int, body: dict[str, Any]) -> None:
        with self._ctx.lock:
            self._forced.setdefault(webhook_id, deque()).append((status, body))

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._rates.clear()
            self._forced.clear()
            if not keep_registrations:
                self._hooks.clear()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/webhooks/{id}/{token}", self.handle),
            web.post("/api/v{version:[0-9]+}/webhooks/{id}/{token}", self.handle),
        ]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        webhook_id, token = request.match_info["id"], request.match_info["token"]
        wait = request.query.get("wait", "").lower() == "true"
        with self._ctx.lock:
            status, payload, headers = self._answer(webhook_id, token, body, wait)
            code = payload.get("code") if payload else None
            reply = Reply(payload or {}, code, status, delivered=status in (200, 204))
            record_reply(self._ctx, Platform.DISCORD, webhook_id, request, body, reply)
        if payload is None:
            return web.Response(status=status, headers=headers)
        text = json.dumps(payload, ensure_ascii=False)
        return web.Response(
            text=text, status=status, headers=headers, content_type="application/json"
        )

    def _answer(self, webhook_id: str, token: str, body: bytes, wait: bool) -> Answer:
        hook = self._hooks.get(webhook_id)
        if hook is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        if hook.token != token:
            return 401, {"message": "Invalid Webhook Token", "code": 50027}, {}
        queue = self._forced.get(webhook_id)
        if queue:
            status, forced = queue.popleft()
            headers = {}
            if isinstance(forced.get("retry_after"), int | float):
                headers["Retry-After"] = str(math.ceil(forced["retry_after"]))
            return status, forced, headers
        limited = self._rate(hook)
        if limited is not None:
            return limited
        msg = parse_object(body)
        if msg is None:
            return 400, {"message": "The request body contains invalid JSON.", "code": 50109}, {}
        problem = message_problem(msg)
        if problem == "empty":
            return 400, {"message": "Cannot send an empty message", "code": 50006}, {}
        if problem:
            errors = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": problem}]}
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}, {}
        if not wait:
            return 204, None, {}
        self._next_id += 1
        created = {"id": str(self._next_id), "webhook_id": webhook_id, "type": 0, **msg}
        return 200, created, {}

    def _rate(self, hook: DiscordWebhook) -> Answer | None:
        limit = hook.per_window or self._ctx.limits.discord_per_window
        window = self._ctx.limits.discord_window_s
        log = self._rates.setdefault(hook.webhook_id, RateLog())
        if log.admit(self._ctx.clock(), [(limit, window)]):
            return None
        body = {"message": "You are being rate limited.", "retry_after": window, "global": False}
        headers = {
            "Retry-After": str(math.ceil(window)),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{window:.3f}",
            "X-RateLimit-Scope": "user",
        }
        return 429, body, headers


def message_problem(msg: dict[str, Any]) -> str | None:
    """Why Discord would refuse `msg` ("empty" for neither content nor embeds), or None."""
    content = msg.get("content")
    embeds = msg.get("embeds") or []
    if not content and not embeds:
        return "empty"
    if content is not None and (not isinstance(content, str) or len(content) > 2000):
        return "content: must be 2000 or fewer in length."
    if not isinstance(embeds, list) or len(embeds) > 10:
        return "embeds: must be 10 or fewer in length."
    total = 0
    for embed in embeds:
        problem, size = _embed_problem(embed)
        if problem:
            return problem
        total += size
    if total > 6000:
        return "embeds: the total size of the embeds exceeds 6000 characters."
    return _mentions_problem(msg.get("allowed_mentions"))


def _embed_problem(embed: Any) -> tuple[str | None, int]:
    if not isinstance(embed, dict):
        return "embeds: must be objects.", 0
    limits = {"title": 256, "description": 4096}
    size = 0
    for key, cap in limits.items():
        value = embed.get(key, "")
        if not isinstance(value, str) or len(value) > cap:
            return f"embeds.{key}: must be {cap} or fewer in length.", 0
        size += len(value)
    fields = embed.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 25:
        return "embeds.fields: must be 25 or fewer in length.", 0
    for field in fields:
        name, value = field.get("name"), field.get("value")
        if not (isinstance(name, str) and 0 < len(name) <= 256):
            return "embeds.fields.name: must be between 1 and 256 in length.", 0
        if not (isinstance(value, str) and 0 < len(value) <= 1024):
            return "embeds.fields.value: must be between 1 and 1024 in length.", 0
        size += len(name) + len(value)
    footer = (embed.get("footer") or {}).get("text", "")
    if len(footer) > 2048:
        return "embeds.footer.text: must be 2048 or fewer in length.", 0
    return None, size + len(footer)


def _mentions_problem(allowed: Any) -> str | None:
    if allowed is None:
        return None
    if not isinstance(allowed, dict):
        return "allowed_mentions: must be an object."
    parse = allowed.get("parse", [])
    if not isinstance(parse, list) or not set(parse) <= MENTION_PARSE:
        return "allowed_mentions.parse: values must be roles, users or everyone."
    for kind in ("users", "roles"):
        if allowed.get(kind) and kind in parse:
            return f"allowed_mentions: parse:[{kind}] and {kind}: [ids] are mutually exclusive."
        if len(allowed.get(kind) or []) > 100:
            return f"allowed_mentions.{kind}: must be 100 or fewer in length."
    return None

"""Fake Slack incoming webhooks: `POST /services/{team}/{bot}/{secret}`.

Checks (platforms.md §4, §6), each answered with Slack's plain-text error and status:
unknown webhook (404 `no_service`) → the webhook's state (`channel_not_found` 404,
`channel_is_archived` 410, `action_prohibited` 403, `invalid_token` 403, `no_team` 404) →
a queued forced answer → rate limit, one message per second per webhook (429 with
`Retry-After`) → JSON object (400 `invalid_payload`) → `text` or `blocks` (400 `no_text`) →
Block Kit limits (400 `invalid_blocks`) → 200 `ok`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herald.fakeplatforms.platform_limits import RateLog
from herald.fakeplatforms.plumbing import FakeContext, Reply, parse_object, record_reply
from herald.fakeplatforms.records import Platform

STATES: dict[str, int] = {
    "ok": 200,
    "channel_not_found": 404,
    "channel_is_archived": 410,
    "action_prohibited": 403,
    "invalid_token": 403,
    "no_team": 404,
}
BLOCK_TYPES = frozenset(
    {"section", "header", "context", "actions", "divider", "image", "rich_text", "input"}
)


@dataclass(frozen=True, slots=True)
class SlackWebhook:
    """One webhook, `team/bot/secret`; `state` other than "ok" answers that error."""

    path: str
    state: str = "ok"
    per_second: int | None = None


@dataclass(frozen=True, slots=True)
class Forced:
    """An answer given instead of the normal checks (once per queued entry)."""

    status: int
    text: str
    retry_after: float | None = None


class SlackFake:
    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._hooks: dict[str, SlackWebhook] = {}
        self._rates: dict[str, RateLog] = {}
        self._forced: dict[str, deque[Forced]] = {}

    def add_webhook(self, hook: SlackWebhook) -> None:
        if hook.state not in STATES:
            raise ValueError(f"unknown Slack webhook state {hook.state!r}")
        with self._ctx.lock:
            self._hooks[hook.path] = hook

    def force(self, path: str, *answers: Forced) -> None:
        with self._ctx.lock:
            self._forced.setdefault(path, deque()).extend(answers)

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._rates.clear()
            self._forced.clear()
            if not keep_registrations:
                self._hooks.clear()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/services/{team}/{bot}/{secret}", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        m = request.match_info
        path = f"{m['team']}/{m['bot']}/{m['secret']}"
        with self._ctx.lock:
            status, text, headers = self._answer(path, body)
            reply = Reply({"text": text}, None, status, delivered=status == 200)
            record_reply(self._ctx, Platform.SLACK, path, request, body, reply)
        return web.Response(text=text, status=status, headers=headers, content_type="text/html")

    def _answer(self, path: str, body: bytes) -> tuple[int, str, dict[str, str]]:
        hook = self._hooks.get(path)
        if hook is None:
            return 404, "no_service", {}
        if hook.state != "ok":
            return STATES[hook.state], hook.state, {}
        queue = self._forced.get(path)
        if queue:
            forced = queue.popleft()
            extra = {} if forced.retry_after is None else {"Retry-After": f"{forced.retry_after:g}"}
            return forced.status, forced.text, extra
        limit = hook.per_second or self._ctx.limits.slack_per_second
        if not self._rates.setdefault(path, RateLog()).admit(self._ctx.clock(), [(limit, 1.0)]):
            return 429, "rate_limited", {"Retry-After": "1"}
        msg = parse_object(body)
        if msg is None:
            return 400, "invalid_payload", {}
        blocks = msg.get("blocks")
        if not (isinstance(msg.get("text"), str) and msg["text"].strip()) and not blocks:
            return 400, "no_text", {}
        if blocks is not None and not valid_blocks(blocks):
            return 400, "invalid_blocks", {}
        return 200, "ok", {}


def valid_blocks(blocks: Any) -> bool:
    """Block Kit's documented limits for the blocks a notification uses."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    return all(isinstance(b, dict) and _valid_block(b) for b in blocks)


def _valid_block(block: dict[str, Any]) -> bool:
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return False
    if kind == "header":
        return _text_ok(block.get("text"), 150, plain=True)
    if kind == "section":
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                return False
            if not all(_text_ok(f, 2000) for f in fields):
                return False
        return ("text" in block and _text_ok(block["text"], 3000)) or fields is not None
    if kind == "context":
        elements = block.get("elements")
        return isinstance(elements, list) and 0 < len(elements) <= 10
    if kind == "actions":
        elements = block.get("elements")
        return isinstance(elements, list) and 0 < len(elements) <= 25
    return True


def _text_ok(obj: Any, limit: int, *, plain: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return False
    if plain and obj["type"] != "plain_text":
        return False
    content = obj.get("text")
    return isinstance(content, str) and 0 < len(content) <= limit

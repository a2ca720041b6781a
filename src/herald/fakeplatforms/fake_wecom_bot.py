"""Fake WeCom group robot ("消息推送"): `POST /cgi-bin/webhook/send?key=…`.

Checks (platforms.md §3.2, §6): key (93000) → rate limit, 20/min per key sliding window
(45009) → JSON (47001) → msgtype and its object (40008) → empty content (44004) → UTF-8 byte
caps: text 2048, markdown and markdown_v2 4096 (40058) → success. Requests past the key check
count against the rate limit whatever their content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herald.fakeplatforms.fake_wecom_app import wecom_error
from herald.fakeplatforms.platform_limits import RateLog
from herald.fakeplatforms.plumbing import (
    FakeContext,
    Reply,
    parse_object,
    record_reply,
    to_response,
    utf8_len,
)
from herald.fakeplatforms.records import Platform

BOT_MSG_TYPES = frozenset(
    {"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}
)
CONTENT_TYPES = frozenset({"text", "markdown", "markdown_v2"})


@dataclass(frozen=True, slots=True)
class WeComBot:
    """One group robot key; `per_minute` overrides the global limit when set."""

    key: str
    per_minute: int | None = None


class WeComBotFake:
    """Registered robot keys, their rate logs, and the aiohttp handler."""

    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._bots: dict[str, WeComBot] = {}
        self._rates: dict[str, RateLog] = {}

    def add_bot(self, bot: WeComBot) -> None:
        """Register or replace the robot for `bot.key` (its rate history is kept)."""
        with self._ctx.lock:
            self._bots[bot.key] = bot

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._rates.clear()
            if not keep_registrations:
                self._bots.clear()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/cgi-bin/webhook/send", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.query.get("key", "")
        with self._ctx.lock:
            reply = self._answer(request, key, body)
            record_reply(self._ctx, Platform.WECOM_BOT, key, request, body, reply)
        return to_response(reply)

    def _answer(self, request: web.Request, key: str, body: bytes) -> Reply:
        bot = self._bots.get(key)
        if bot is None:
            return wecom_error(93000, "invalid webhook url", request)
        if not self._admit(bot):
            return wecom_error(45009, "api freq out of limit", request)
        msg = parse_object(body)
        if msg is None:
            return wecom_error(47001, "data format error", request)
        problem = self._content_problem(request, msg)
        if problem is not None:
            return problem
        return Reply({"errcode": 0, "errmsg": "ok"}, code=0, delivered=True)

    def _content_problem(self, request: web.Request, msg: dict[str, Any]) -> Reply | None:
        msgtype = msg.get("msgtype")
        if not isinstance(msgtype, str) or msgtype not in BOT_MSG_TYPES:
            return wecom_error(40008, "invalid message type", request)
        obj = msg.get(msgtype)
        if not isinstance(obj, dict):
            return wecom_error(40008, "invalid message type", request)
        if msgtype not in CONTENT_TYPES:
            return None
        content = obj.get("content")
        if not isinstance(content, str) or not content:
            return wecom_error(44004, "empty content", request)
        limits = self._ctx.limits
        cap = (
            limits.wecom_bot_text_max_bytes
            if msgtype == "text"
            else limits.wecom_bot_markdown_max_bytes
        )
        if utf8_len(content) > cap:
            text = f"{msgtype}.content exceed max length {cap}. invalid Request Parameter"
            return wecom_error(40058, text, request)
        return None

    def _admit(self, bot: WeComBot) -> bool:
        limit = bot.per_minute
        if limit is None:
            limit = self._ctx.limits.wecom_bot_per_minute
        log = self._rates.setdefault(bot.key, RateLog())
        return log.admit(self._ctx.clock(), [(limit, 60.0)])

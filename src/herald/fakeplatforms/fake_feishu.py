"""Fake Feishu/Lark custom bot webhook: `POST /open-apis/bot/v2/hook/{token}[/]`.

Checks run in this order, each answering as platforms.md §1 and §6 describe: token
(19001) → body size and JSON (HTTP 400, 9499) → signature (19021) → IP allowlist (19022) →
rate limit (11232) → msg_type (19002) → content shape (HTTP 400, 9499; 200861 for legacy tags
in a 2.0 card) → keywords (19024) → success. Requests past the signature and IP checks count
against the rate limit whether or not their content is valid, as a gateway would count them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herald.fakeplatforms.platform_limits import RateLog
from herald.fakeplatforms.plumbing import (
    FakeContext,
    Reply,
    has_keyword,
    ip_allowed,
    iter_text_values,
    parse_object,
    record_reply,
    to_response,
)
from herald.fakeplatforms.records import Platform

HOOK_PATH = "/open-apis/bot/v2/hook/{token}"
MSG_TYPES = frozenset({"text", "post", "image", "share_chat", "interactive"})
POST_LOCALES = frozenset({"zh_cn", "en_us", "ja_jp"})
# Only text-like values count for keywords; `href`/`url` never do (platforms.md §1.2).
TEXT_KEYS = frozenset({"text", "title", "content"})

SUCCESS: dict[str, Any] = {
    "StatusCode": 0,
    "StatusMessage": "success",
    "code": 0,
    "data": {},
    "msg": "success",
}
LEGACY_SUCCESS: dict[str, Any] = {"Extra": None, "StatusCode": 0, "StatusMessage": "success"}
SIGN_FAIL = "sign match fail or timestamp is not within one hour from current time"


@dataclass(frozen=True, slots=True)
class FeishuBot:
    """One custom bot. `per_second`/`per_minute` override the global `Limits` when set;
    `legacy` answers success with the old `{"Extra":null,"StatusCode":0,...}` shape."""

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    legacy: bool = False
    ip_allowlist: tuple[str, ...] = ()
    per_second: int | None = None
    per_minute: int | None = None


def _error(code: int, msg: str, status: int = 200) -> Reply:
    return Reply({"code": code, "msg": msg, "data": {}}, code=code, status=status)


BAD_REQUEST = _error(9499, "Bad Request", status=400)


class FeishuFake:
    """Registered bots, their rate logs, and the aiohttp handler."""

    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._bots: dict[str, FeishuBot] = {}
        self._rates: dict[str, RateLog] = {}

    def add_bot(self, bot: FeishuBot) -> None:
        """Register or replace the bot for `bot.token` (its rate history is kept)."""
        with self._ctx.lock:
            self._bots[bot.token] = bot

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._rates.clear()
            if not keep_registrations:
                self._bots.clear()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(HOOK_PATH, self.handle), web.post(HOOK_PATH + "/", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        body = await request.read()
        with self._ctx.lock:
            reply = self._answer(request, token, body)
            record_reply(self._ctx, Platform.FEISHU, token, request, body, reply)
        return to_response(reply)

    def _answer(self, request: web.Request, token: str, body: bytes) -> Reply:
        bot = self._bots.get(token)
        if bot is None:
            return _error(19001, "param invalid: incoming webhook access token invalid")
        limits = self._ctx.limits
        msg = parse_object(body) if len(body) <= limits.feishu_max_body_bytes else None
        if msg is None:
            return BAD_REQUEST
        if bot.secret is not None and not self._signature_ok(msg, bot.secret):
            return _error(19021, SIGN_FAIL)
        if not ip_allowed(request.remote, bot.ip_allowlist):
            return _error(19022, "Ip Not Allowed")
        if not self._admit(bot):
            return _error(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[-1]")
        msg_type = msg.get("msg_type")
        if not isinstance(msg_type, str) or msg_type not in MSG_TYPES:
            return _error(19002, "params error, msg_type need")
        problem = content_problem(msg_type, msg)
        if problem is not None:
            return problem
        if not has_keyword(iter_text_values(msg, TEXT_KEYS), bot.keywords):
            return _error(19024, "Key Words Not Found")
        payload = LEGACY_SUCCESS if bot.legacy else SUCCESS
        # Legacy answers carry StatusCode 0 instead of code; record 0 either way.
        return Reply(dict(payload), code=0, delivered=True)

    def _signature_ok(self, msg: dict[str, Any], secret: str) -> bool:
        seconds = _timestamp_seconds(msg.get("timestamp"))
        sign = msg.get("sign")
        if seconds is None or not isinstance(sign, str):
            return False
        if abs(self._ctx.clock() - seconds) > self._ctx.limits.feishu_sign_tolerance_s:
            return False
        # Feishu's quirk: the string-to-sign is the HMAC *key* and the message is empty.
        key = f"{seconds}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, sign)

    def _admit(self, bot: FeishuBot) -> bool:
        limits = self._ctx.limits
        per_second = bot.per_second if bot.per_second is not None else limits.feishu_per_second
        per_minute = bot.per_minute if bot.per_minute is not None else limits.feishu_per_minute
        log = self._rates.setdefault(bot.token, RateLog())
        return log.admit(self._ctx.clock(), [(per_second, 1.0), (per_minute, 60.0)])


def _timestamp_seconds(value: Any) -> int | None:
    """Seconds from a JSON string of ASCII digits or a JSON integer (both seen in the wild)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def content_problem(msg_type: str, msg: dict[str, Any]) -> Reply | None:
    """The error for a body whose content does not fit `msg_type`, or None if it fits."""
    if msg_type == "interactive":
        return _card_problem(msg.get("card"))
    content = msg.get("content")
    if not isinstance(content, dict):
        return BAD_REQUEST
    required = {"text": "text", "image": "image_key", "share_chat": "share_chat_id"}
    if msg_type in required:
        return None if isinstance(content.get(required[msg_type]), str) else BAD_REQUEST
    return None if _post_ok(content.get("post")) else BAD_REQUEST


def _post_ok(post: Any) -> bool:
    if not isinstance(post, dict):
        return False
    locales = [post[k] for k in POST_LOCALES if k in post]
    return bool(locales) and all(
        isinstance(v, dict) and isinstance(v.get("content"), list) for v in locales
    )


def _card_problem(card: Any) -> Reply | None:
    # Cards go in a top-level `card` JSON object. One third-party SDK reportedly sends a JSON
    # string and it works; we reject it so senders keep to the documented object form.
    if not isinstance(card, dict):
        return BAD_REQUEST
    if card.get("schema") != "2.0":
        return None
    body = card.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("elements"), list):
        return BAD_REQUEST
    if _has_tag(body, "action"):
        # Code reported by a third party for 2.0 cards using the legacy wrapper (§1.6);
        # exact webhook code unverified, but any non-zero code fails the send.
        return _error(200861, "cards of schema V2 no longer support this capability: action")
    return None


def _has_tag(value: Any, tag: str) -> bool:
    if isinstance(value, dict):
        return value.get("tag") == tag or any(_has_tag(v, tag) for v in value.values())
    if isinstance(value, list):
        return any(_has_tag(v, tag) for v in value)
    return False

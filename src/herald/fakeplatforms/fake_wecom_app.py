"""Fake WeCom application message API: `GET /cgi-bin/gettoken`, `POST /cgi-bin/message/send`.

Follows platforms.md §3.1, §3.3-§3.4 and §6. Every error is HTTP 200 with
`errmsg` shaped `<text>, hint: [<id>], from ip: <ip>, more info at …?e=<code>`.
Tokens live `wecom_token_ttl_s`; gettoken hands back the same token until it expires or a
test expires/invalidates it. Send checks: token (41001/40014/42001) → JSON (47001) → agentid
(40056) → msgtype (40008) → content (44004/40058; app text over the cap is truncated, as the
docs say) → recipients (82001/81013) → duplicate check → per-member quota (silent drops).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

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

APP_MSG_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)
MORE_INFO = "https://open.work.weixin.qq.com/devtool/query?e="


def wecom_error(code: int, text: str, request: web.Request) -> Reply:
    """A WeCom business error in the documented errmsg shape (HTTP 200)."""
    hint = secrets.token_hex(12)
    msg = f"{text}, hint: [{hint}], from ip: {request.remote}, more info at {MORE_INFO}{code}"
    return Reply({"errcode": code, "errmsg": msg}, code=code)


@dataclass(frozen=True, slots=True)
class WeComApp:
    """One self-built app. `users`/`parties`/`tags` are the valid recipient ids (userids are
    matched case-insensitively); `member_per_minute` overrides the global per-member quota.
    `api_per_minute` caps this app's message/send calls (45009 beyond it; unlimited if None,
    as WeCom's real API quotas are far above what one app sends)."""

    corp_id: str
    secret: str
    agent_id: int
    users: tuple[str, ...] = ()
    parties: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    member_per_minute: int | None = None
    api_per_minute: int | None = None

    @property
    def key(self) -> str:
        """The record key for this app's sends: "corp_id/agent_id"."""
        return f"{self.corp_id}/{self.agent_id}"


@dataclass(slots=True)
class _Token:
    value: str
    app: WeComApp
    expires_at: float
    invalid: bool = False


@dataclass(frozen=True, slots=True)
class _Recipients:
    users: tuple[str, ...]
    invalid_users: tuple[str, ...]
    parties: tuple[str, ...]
    invalid_parties: tuple[str, ...]
    tags: tuple[str, ...]
    invalid_tags: tuple[str, ...]


class WeComAppFake:
    """Registered apps, issued tokens, quotas and duplicate-check memory, plus handlers."""

    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._apps: dict[tuple[str, int], WeComApp] = {}
        self._tokens: dict[str, _Token] = {}
        self._members: dict[tuple[str, str], RateLog] = {}
        self._api_calls: dict[str, RateLog] = {}
        self._seen: dict[tuple[str, str], float] = {}

    def add_app(self, app: WeComApp) -> None:
        """Register or replace the app (corp_id, agent_id); tokens already issued stay valid."""
        with self._ctx.lock:
            self._apps[(app.corp_id, app.agent_id)] = app

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._tokens.clear()
            self._members.clear()
            self._api_calls.clear()
            self._seen.clear()
            if not keep_registrations:
                self._apps.clear()

    def expire_tokens(self, corp_id: str | None = None) -> list[str]:
        """Make every live token (of `corp_id`, or all) expired now: sends get 42001 and the
        next gettoken issues a fresh token. Returns the tokens affected."""
        return self._mark(corp_id, expire=True)

    def invalidate_tokens(self, corp_id: str | None = None) -> list[str]:
        """Revoke every live token (of `corp_id`, or all): sends get 40014. Returns them."""
        return self._mark(corp_id, expire=False)

    def _mark(self, corp_id: str | None, *, expire: bool) -> list[str]:
        with self._ctx.lock:
            now = self._ctx.clock()
            hit = [t for t in self._tokens.values() if self._live(t, now)]
            hit = [t for t in hit if corp_id is None or t.app.corp_id == corp_id]
            for token in hit:
                if expire:
                    token.expires_at = now
                else:
                    token.invalid = True
            return [t.value for t in hit]

    @staticmethod
    def _live(token: _Token, now: float) -> bool:
        return not token.invalid and token.expires_at > now

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/cgi-bin/gettoken", self.handle_gettoken),
            web.post("/cgi-bin/message/send", self.handle_send),
        ]

    async def handle_gettoken(self, request: web.Request) -> web.Response:
        corp_id = request.query.get("corpid", "")
        with self._ctx.lock:
            reply = self._issue(request, corp_id, request.query.get("corpsecret", ""))
            record_reply(self._ctx, Platform.WECOM_TOKEN, corp_id, request, b"", reply)
        return to_response(reply)

    def _issue(self, request: web.Request, corp_id: str, secret: str) -> Reply:
        if not corp_id:
            return wecom_error(41002, "corpid missing", request)
        if not secret:
            return wecom_error(41004, "corpsecret missing", request)
        apps = [a for (corp, _), a in self._apps.items() if corp == corp_id]
        if not apps:
            return wecom_error(40013, "invalid corpid", request)
        app = next((a for a in apps if secrets.compare_digest(a.secret, secret)), None)
        if app is None:
            return wecom_error(40001, "invalid credential", request)
        token = self._current_token(app)
        remaining = round(token.expires_at - self._ctx.clock())
        payload = {"errcode": 0, "errmsg": "ok", "access_token": token.value}
        return Reply({**payload, "expires_in": remaining}, code=0)

    def _current_token(self, app: WeComApp) -> _Token:
        now = self._ctx.clock()
        for token in self._tokens.values():
            if token.app == app and self._live(token, now):
                return token
        value = secrets.token_urlsafe(96)
        token = _Token(value, app, now + self._ctx.limits.wecom_token_ttl_s)
        self._tokens[value] = token
        return token

    async def handle_send(self, request: web.Request) -> web.Response:
        body = await request.read()
        raw_token = request.query.get("access_token", "")
        with self._ctx.lock:
            token = self._tokens.get(raw_token)
            key = token.app.key if token else raw_token
            reply = self._send(request, token, body)
            record_reply(self._ctx, Platform.WECOM_APP, key, request, body, reply)
        return to_response(reply)

    def _send(self, request: web.Request, token: _Token | None, body: bytes) -> Reply:
        if not request.query.get("access_token"):
            return wecom_error(41001, "access_token missing", request)
        if token is None or token.invalid:
            return wecom_error(40014, "invalid access_token", request)
        if token.expires_at <= self._ctx.clock():
            return wecom_error(42001, "access_token expired", request)
        if not self._admit_call(token.app):
            return wecom_error(45009, "api freq out of limit", request)
        msg = parse_object(body)
        if msg is None:
            return wecom_error(47001, "data format error", request)
        if _agent_id(msg.get("agentid")) != token.app.agent_id:
            return wecom_error(40056, "invalid agentid", request)
        problem = self._content_problem(request, msg)
        if problem is not None:
            return problem
        return self._deliver(request, token.app, msg)

    def _admit_call(self, app: WeComApp) -> bool:
        if app.api_per_minute is None:
            return True
        log = self._api_calls.setdefault(app.key, RateLog())
        return log.admit(self._ctx.clock(), [(app.api_per_minute, 60.0)])

    def _content_problem(self, request: web.Request, msg: dict[str, Any]) -> Reply | None:
        msgtype = msg.get("msgtype")
        if not isinstance(msgtype, str) or msgtype not in APP_MSG_TYPES:
            return wecom_error(40008, "invalid message type", request)
        obj = msg.get(msgtype)
        if not isinstance(obj, dict):
            return wecom_error(40008, "invalid message type", request)
        if msgtype not in ("text", "markdown"):
            return None
        content = obj.get("content")
        if not isinstance(content, str) or not content:
            return wecom_error(44004, "empty content", request)
        cap = self._ctx.limits.wecom_app_content_max_bytes
        if msgtype == "markdown" and utf8_len(content) > cap:
            text = f"markdown.content exceed max length {cap}. invalid Request Parameter"
            return wecom_error(40058, text, request)
        return None

    def _deliver(self, request: web.Request, app: WeComApp, msg: dict[str, Any]) -> Reply:
        if not any(_split(msg.get(k)) for k in ("touser", "toparty", "totag")):
            return wecom_error(82001, "All touser & toparty & totag invalid", request)
        to = _resolve(app, msg)
        if not (to.users or to.parties or to.tags):
            return wecom_error(81013, "user & party & tag all invalid", request)
        payload = _success_payload(to)
        if self._is_duplicate(app, msg):
            return Reply(payload, code=0, note="duplicate suppressed")
        delivered, dropped = self._apply_member_quota(app, to.users)
        note = "member quota exceeded" if dropped else ""
        if self._text_truncated(msg):
            note = ", ".join(filter(None, [note, "text truncated"]))
        reached = bool(delivered or to.parties or to.tags)
        return Reply(payload, code=0, delivered=reached, dropped=dropped, note=note)

    def _text_truncated(self, msg: dict[str, Any]) -> bool:
        if msg.get("msgtype") != "text":
            return False
        return utf8_len(msg["text"]["content"]) > self._ctx.limits.wecom_app_content_max_bytes

    def _is_duplicate(self, app: WeComApp, msg: dict[str, Any]) -> bool:
        """Identical request JSON within the interval is suppressed (errcode 0, not sent)."""
        if msg.get("enable_duplicate_check") not in (1, "1", True):
            return False
        limits = self._ctx.limits
        interval = msg.get("duplicate_check_interval", limits.wecom_duplicate_interval_default_s)
        if not isinstance(interval, int | float) or isinstance(interval, bool):
            interval = limits.wecom_duplicate_interval_default_s
        interval = min(float(interval), limits.wecom_duplicate_interval_max_s)
        canonical = json.dumps(msg, sort_keys=True, ensure_ascii=False).encode()
        seen_key = (app.key, hashlib.sha256(canonical).hexdigest())
        now = self._ctx.clock()
        if self._seen.get(seen_key, float("-inf")) > now:
            return True
        self._seen[seen_key] = now + interval
        return False

    def _apply_member_quota(
        self, app: WeComApp, users: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Split users into (delivered, silently dropped) under the per-member quotas."""
        limits = self._ctx.limits
        per_minute = app.member_per_minute
        if per_minute is None:
            per_minute = limits.wecom_member_per_minute
        rules = [(per_minute, 60.0), (limits.wecom_member_per_hour, 3600.0)]
        now = self._ctx.clock()
        delivered: list[str] = []
        dropped: list[str] = []
        for user in users:
            log = self._members.setdefault((app.key, user), RateLog())
            (delivered if log.admit(now, rules) else dropped).append(user)
        return tuple(delivered), tuple(dropped)


def _agent_id(value: Any) -> int | None:
    """agentid as sent: the documented integer, or a numeric string (lenient, as observed)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _split(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    return list(dict.fromkeys(part for part in value.split("|") if part))


def _resolve(app: WeComApp, msg: dict[str, Any]) -> _Recipients:
    users = [u.lower() for u in _split(msg.get("touser"))]
    known = {u.lower() for u in app.users}
    if "@all" in users:
        # touser=@all reaches every member and makes toparty/totag irrelevant.
        everyone = tuple(dict.fromkeys(u.lower() for u in app.users))
        return _Recipients(everyone, (), (), (), (), ())
    parties = _split(msg.get("toparty"))
    tags = _split(msg.get("totag"))
    return _Recipients(
        users=tuple(u for u in dict.fromkeys(users) if u in known),
        invalid_users=tuple(u for u in dict.fromkeys(users) if u not in known),
        parties=tuple(p for p in parties if p in app.parties),
        invalid_parties=tuple(p for p in parties if p not in app.parties),
        tags=tuple(t for t in tags if t in app.tags),
        invalid_tags=tuple(t for t in tags if t not in app.tags),
    )


def _success_payload(to: _Recipients) -> dict[str, Any]:
    payload: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
    lists = {
        "invaliduser": to.invalid_users,
        "invalidparty": to.invalid_parties,
        "invalidtag": to.invalid_tags,
    }
    payload.update({name: "|".join(ids) for name, ids in lists.items() if ids})
    payload["msgid"] = secrets.token_urlsafe(24)
    return payload

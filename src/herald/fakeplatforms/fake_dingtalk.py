"""Fake DingTalk custom robot: `ANY /robot/send?access_token=…[&timestamp=…&sign=…]`.

Checks run in this order (platforms.md §2 and §6): method (43002) → token present
(40035) and known (300005) → optional gateway anti-abuse shape → timestamp and signature
(310000) → IP allowlist (310000) → rate limit with 10-minute penalty (130101) → body size
(460101) → JSON (40035) → msgtype and its object (300001 / 4002xx-4004xx) → keywords
(310000) → success. Sends past the security checks count against the rate limit whatever
their content, as a gateway would count them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herald.fakeplatforms.platform_limits import PenaltyBox
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

SEND_PATH = "/robot/send"
TEXT_KEYS = frozenset({"content", "title", "text", "singleTitle"})
MS_TIMESTAMP = re.compile(r"[0-9]{13}")

# Required fields per msgtype with the errcode DingTalk answers when one is missing. 400202
# (text->content) and 400402/400403 (markdown->title/text) are observed in public logs; the
# codes for the other types are unverified, so they reuse the generic 40035 "missing param".
REQUIRED: dict[str, tuple[tuple[str, int], ...]] = {
    "text": (("content", 400202),),
    "markdown": (("title", 400402), ("text", 400403)),
    "link": (("title", 40035), ("text", 40035), ("messageUrl", 40035)),
    "actionCard": (("title", 40035), ("text", 40035)),
    "feedCard": (("links", 40035),),
}


@dataclass(frozen=True, slots=True)
class DingTalkRobot:
    """One custom robot. `per_window`/`penalty_s` override the global `Limits` when set;
    `gateway_mode` answers every POST with the errcode-less `{"status":1111,...}` shape."""

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    gateway_mode: bool = False
    ip_allowlist: tuple[str, ...] = ()
    per_window: int | None = None
    penalty_s: float | None = None


def _error(code: int, msg: str) -> Reply:
    return Reply({"errcode": code, "errmsg": msg}, code=code)


def _missing_param(msgtype: str, name: str, code: int) -> Reply:
    return _error(
        code,
        f"错误描述:参数 {msgtype} --》 {name} 缺失，或者参数格式不正确; "
        "解决方案:请填充上对应参数;参考链接:请参考本接口对应文档查看参数获取方式，"
        "或者在https://open.dingtalk.com/document/  搜索对应文档;",
    )


class DingTalkFake:
    """Registered robots, their penalty boxes, and the aiohttp handler."""

    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._robots: dict[str, DingTalkRobot] = {}
        self._boxes: dict[str, PenaltyBox] = {}

    def add_robot(self, robot: DingTalkRobot) -> None:
        """Register or replace the robot for `robot.token` (its rate history is kept)."""
        with self._ctx.lock:
            self._robots[robot.token] = robot

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._boxes.clear()
            if not keep_registrations:
                self._robots.clear()

    def blocked_until(self, token: str) -> float | None:
        """End of the robot's current 130101 penalty (clock seconds), None if not penalised."""
        with self._ctx.lock:
            box = self._boxes.get(token)
            until = box.blocked_until() if box else None
            return until if until is not None and until > self._ctx.clock() else None

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", SEND_PATH, self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        token = request.query.get("access_token", "")
        with self._ctx.lock:
            reply = self._answer(request, token, body)
            record_reply(self._ctx, Platform.DINGTALK, token, request, body, reply)
        return to_response(reply)

    def _answer(self, request: web.Request, token: str, body: bytes) -> Reply:
        if request.method != "POST":
            return _error(43002, "需要POST请求")
        if not token:
            return _error(40035, "缺少参数 access_token")
        robot = self._robots.get(token)
        if robot is None:
            return _error(300005, "token is not exist")
        if robot.gateway_mode:
            return _gateway_reply()
        security = self._security_problem(request, robot)
        if security is not None:
            return security
        if not self._admit(robot):
            return _error(130101, "send too fast, exceed 20 times per minute")
        if len(body) > self._ctx.limits.dingtalk_max_body_bytes:
            return _error(460101, "message too long, exceed 20000 bytes")
        msg = parse_object(body)
        if msg is None:
            return _error(40035, "缺少参数 json")
        problem = message_problem(msg)
        if problem is not None:
            return problem
        texts = iter_text_values(msg[msg["msgtype"]], TEXT_KEYS)
        if not has_keyword(texts, robot.keywords):
            return _error(310000, "keywords not in content")
        return Reply({"errcode": 0, "errmsg": "ok"}, code=0, delivered=True)

    def _security_problem(self, request: web.Request, robot: DingTalkRobot) -> Reply | None:
        if robot.secret is not None:
            # request.query is the standard single decode: a double-encoded sign stays
            # percent-encoded and an unencoded "+" becomes a space, so both fail to match.
            problem = self._signature_problem(
                request.query.get("timestamp", ""), request.query.get("sign", ""), robot.secret
            )
            if problem is not None:
                return problem
        if not ip_allowed(request.remote, robot.ip_allowlist):
            return _error(310000, f"ip {request.remote} not in whitelist")
        return None

    def _signature_problem(self, timestamp: str, sign: str, secret: str) -> Reply | None:
        if MS_TIMESTAMP.fullmatch(timestamp) is None:
            return _error(310000, "invalid timestamp")
        now_ms = self._ctx.clock() * 1000
        if abs(now_ms - int(timestamp)) > self._ctx.limits.dingtalk_sign_tolerance_ms:
            return _error(310000, "invalid timestamp")
        digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
        expected = base64.b64encode(digest.digest()).decode()
        if not hmac.compare_digest(expected, sign):
            return _error(310000, "sign not match")
        return None

    def _admit(self, robot: DingTalkRobot) -> bool:
        limits = self._ctx.limits
        limit = robot.per_window if robot.per_window is not None else limits.dingtalk_per_window
        penalty = robot.penalty_s if robot.penalty_s is not None else limits.dingtalk_penalty_s
        box = self._boxes.setdefault(robot.token, PenaltyBox())
        return box.admit(self._ctx.clock(), limit, limits.dingtalk_window_s, penalty)


def _gateway_reply() -> Reply:
    payload = {
        "status": 1111,
        "wait": 5,
        "source": "x5",
        "punish": "deny",
        "uuid": str(uuid.uuid4()),
    }
    return Reply(payload, code=None)


def message_problem(msg: dict[str, Any]) -> Reply | None:
    """The error for a body whose msgtype or matching object is wrong, or None if it fits.

    The object named by `msgtype` must itself be present: `{"msgtype":"text","markdown":{…}}`
    fails with text->content missing, as Apprise's markdown bug would on the real service.
    """
    msgtype = msg.get("msgtype")
    if not isinstance(msgtype, str) or not msgtype:
        return _error(40035, "缺少参数 msgtype")
    if msgtype not in REQUIRED:
        return _error(300001, "message msgtype not support")
    obj = msg.get(msgtype)
    for name, code in REQUIRED[msgtype]:
        value = obj.get(name) if isinstance(obj, dict) else None
        if not value:
            return _missing_param(msgtype, name, code)
    if msgtype == "actionCard" and not _action_card_buttons_ok(obj):
        return _missing_param(msgtype, "singleTitle", 40035)
    return None


def _action_card_buttons_ok(card: Any) -> bool:
    """An actionCard needs either singleTitle+singleURL or a non-empty btns list."""
    if not isinstance(card, dict):
        return False
    if card.get("singleTitle") and card.get("singleURL"):
        return True
    buttons = card.get("btns")
    return isinstance(buttons, list) and bool(buttons)

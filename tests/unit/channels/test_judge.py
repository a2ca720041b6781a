"""Every documented answer of every platform, classified: delivered, partial, retryable,
permanent or token-expired. These platforms answer HTTP 200 with an error code in the body."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import pytest

from herald.channels.base import Outcome, OutcomeKind, parse_retry_after
from herald.channels.custom import CustomSender
from herald.channels.dingtalk import DingTalkSender
from herald.channels.feishu import FeishuSender
from herald.channels.wecom_app import WeComAppSender
from herald.channels.wecom_bot import WeComBotSender
from tests.unit.channels.support import NOW

D, P, R = OutcomeKind.DELIVERED, OutcomeKind.PERMANENT, OutcomeKind.RETRYABLE
T, PARTIAL = OutcomeKind.TOKEN_EXPIRED, OutcomeKind.PARTIAL


def clock() -> float:
    return NOW


def raw(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode()


def wecom(code: int, msg: str = "text", **extra: Any) -> dict[str, Any]:
    errmsg = f"{msg}, hint: [abc], from ip: 1.2.3.4, more info at https://open.work.weixin.qq.com/devtool/query?e={code}"
    return {"errcode": code, "errmsg": errmsg, **extra}


def check(outcome: Outcome, kind: OutcomeKind, code: str | None, limited: bool = False) -> None:
    assert outcome.kind is kind, outcome
    assert outcome.code == code, outcome
    assert outcome.rate_limited is limited, outcome
    assert len(outcome.message) <= 700


FEISHU_OK = {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
FEISHU = [
    (200, FEISHU_OK, D, "0", False),
    (200, {"Extra": None, "StatusCode": 0, "StatusMessage": "success"}, D, "0", False),
    # `code` decides: an error body that also says StatusCode 0 is not a success.
    (
        200,
        {"StatusCode": 0, "StatusMessage": "", "code": 9499, "msg": "too many request"},
        R,
        "9499",
        True,
    ),
    (200, {"code": 9499, "msg": "frequency limited, retry later"}, R, "9499", True),
    (400, {"code": 9499, "msg": "Bad Request", "data": {}}, P, "9499", False),
    (200, {"code": 9499, "msg": "Bad Request: fail to parse content"}, P, "9499", False),
    (
        200,
        {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]appID[-1]"},
        R,
        "11232",
        True,
    ),
    (429, {"code": 99991400, "msg": "request trigger frequency limit"}, R, "99991400", True),
    (
        200,
        {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"},
        P,
        "19001",
        False,
    ),
    (200, {"code": 19002, "msg": "params error, msg_type need"}, P, "19002", False),
    (200, {"code": 19007, "msg": "Bot Not Enabled"}, P, "19007", False),
    (
        200,
        {
            "code": 19021,
            "msg": "sign match fail or timestamp is not within one hour from current time",
        },
        P,
        "19021",
        False,
    ),
    (200, {"code": 19022, "msg": "Ip Not Allowed"}, P, "19022", False),
    (200, {"code": 19024, "msg": "Key Words Not Found"}, P, "19024", False),
    (200, {"StatusCode": 19021, "StatusMessage": "sign match fail"}, P, "19021", False),
    (200, {"code": 12345, "msg": "something new"}, P, "12345", False),
    (500, {"code": 12345, "msg": "internal"}, R, "12345", False),
    (200, b"", P, None, False),
    (200, b"<html>ok</html>", P, None, False),
    (200, b"[0]", P, None, False),
    (200, {"data": {}}, P, None, False),
    (502, b"<html>bad gateway</html>", R, "http_502", False),
    (503, b"", R, "http_503", False),
    (408, b"", R, "http_408", False),
    (429, b"slow down", R, "http_429", True),
    (404, b"not found", P, "http_404", False),
]


@pytest.mark.parametrize(("status", "body", "kind", "code", "limited"), FEISHU)
def test_feishu(status: int, body: Any, kind: OutcomeKind, code: str | None, limited: bool) -> None:
    check(FeishuSender(clock).judge(status, {}, raw(body)), kind, code, limited)


@pytest.mark.parametrize(
    ("code", "needle"),
    [(19021, "sign_secret"), (19024, "keyword"), (19022, "whitelist"), (19001, "webhook URL")],
)
def test_feishu_permanent_errors_say_what_to_fix(code: int, needle: str) -> None:
    outcome = FeishuSender(clock).judge(200, {}, raw({"code": code, "msg": "x"}))
    assert needle in outcome.message


def test_feishu_rate_limit_waits_a_few_seconds_or_as_told() -> None:
    sender = FeishuSender(clock)
    assert (
        sender.judge(200, {}, raw({"code": 11232, "msg": "frequency limited"})).retry_after == 5.0
    )
    told = sender.judge(200, {"retry-after": "12"}, raw({"code": 11232, "msg": "x"}))
    assert told.retry_after == 12.0


DINGTALK = [
    (200, {"errcode": 0, "errmsg": "ok"}, D, "0", False),
    (
        200,
        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
        R,
        "130101",
        True,
    ),
    (200, {"errcode": -1, "errmsg": "系统繁忙"}, R, "-1", False),
    (200, {"errcode": 310000, "errmsg": "keywords not in content"}, P, "310000", False),
    (200, {"errcode": 310000, "errmsg": "sign not match"}, P, "310000", False),
    (200, {"errcode": 300001, "errmsg": "token is not exist"}, P, "300001", False),
    (200, {"errcode": 300005, "errmsg": "token is not exist"}, P, "300005", False),
    (200, {"errcode": 40035, "errmsg": "缺少参数 access_token"}, P, "40035", False),
    (200, {"errcode": 43002, "errmsg": "需要POST请求"}, P, "43002", False),
    (
        200,
        {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"},
        P,
        "460101",
        False,
    ),
    (200, {"errcode": 400102, "errmsg": "robot stopped"}, P, "400102", False),
    (200, {"errcode": 777777, "errmsg": "new"}, P, "777777", False),
    (502, {"errcode": 777777, "errmsg": "gateway"}, R, "777777", False),
    # The anti-abuse gateway answers without any errcode.
    (
        200,
        {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "u"},
        R,
        "1111",
        True,
    ),
    (200, {"errmsg": "ok"}, P, None, False),
    (200, b"", P, None, False),
    (200, b"not json", P, None, False),
    (503, b"", R, "http_503", False),
    (403, b"forbidden", P, "http_403", False),
]


@pytest.mark.parametrize(("status", "body", "kind", "code", "limited"), DINGTALK)
def test_dingtalk(
    status: int, body: Any, kind: OutcomeKind, code: str | None, limited: bool
) -> None:
    check(DingTalkSender(clock).judge(status, {}, raw(body)), kind, code, limited)


def test_dingtalk_rate_limit_waits_out_the_ten_minute_penalty() -> None:
    outcome = DingTalkSender(clock).judge(
        200, {}, raw({"errcode": 130101, "errmsg": "send too fast"})
    )
    assert outcome.retry_after == 600.0


def test_dingtalk_gateway_wait_is_honoured() -> None:
    outcome = DingTalkSender(clock).judge(
        200, {}, raw({"status": 1111, "wait": 7, "punish": "deny"})
    )
    assert outcome.retry_after == 7.0


DINGTALK_310000 = [
    ("keywords not in content", "keyword"),
    ("sign not match", "sign_secret"),
    (
        "description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中;",
        "sign_secret",
    ),
    ("invalid timestamp", "clock"),
    (
        "description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在 timestampms 以内;",
        "clock",
    ),
    ("ip 1.2.3.4 not in whitelist", "IP whitelist"),
]


@pytest.mark.parametrize(("errmsg", "needle"), DINGTALK_310000)
def test_dingtalk_310000_names_the_security_setting(errmsg: str, needle: str) -> None:
    outcome = DingTalkSender(clock).judge(200, {}, raw({"errcode": 310000, "errmsg": errmsg}))
    assert outcome.kind is P and needle in outcome.message


WECOM_APP = [
    (wecom(0, "ok"), D, "0", False),
    (wecom(0, "ok", invaliduser="", invalidparty="", invalidtag=""), D, "0", False),
    (wecom(0, "ok", invaliduser="zhangsan|lisi"), PARTIAL, "0", False),
    (wecom(0, "ok", invalidparty="3"), PARTIAL, "0", False),
    (wecom(0, "ok", invalidtag="9"), PARTIAL, "0", False),
    (wecom(-1, "system busy"), R, "-1", False),
    (wecom(45009, "api freq out of limit"), R, "45009", True),
    (wecom(45033, "api concurrent out of limit"), R, "45033", False),
    (wecom(40014, "invalid access_token"), T, "40014", False),
    (wecom(42001, "access_token expired"), T, "42001", False),
    (wecom(41001, "access_token missing"), T, "41001", False),
    *[
        (wecom(code), P, str(code), False)
        for code in (
            40001,
            40003,
            40008,
            40013,
            40035,
            40056,
            40058,
            44004,
            45002,
            48002,
            60020,
            81013,
            82001,
            99999,
        )
    ],
    # errcode decides, never the errmsg wording.
    (wecom(40003, "api freq out of limit"), P, "40003", False),
    (wecom(45009, "invalid access_token"), R, "45009", True),
]


@pytest.mark.parametrize(("body", "kind", "code", "limited"), WECOM_APP)
def test_wecom_app(body: Any, kind: OutcomeKind, code: str, limited: bool) -> None:
    check(WeComAppSender(clock).judge(200, {}, raw(body)), kind, code, limited)


def test_wecom_partial_names_the_refused_recipients() -> None:
    body = wecom(0, "ok", invaliduser="zhangsan|lisi", invalidtag="9")
    outcome = WeComAppSender(clock).judge(200, {}, raw(body))
    assert "zhangsan|lisi" in outcome.message and "invalidtag=9" in outcome.message


def test_wecom_frequency_limit_waits_a_minute() -> None:
    assert WeComAppSender(clock).judge(200, {}, raw(wecom(45009))).retry_after == 60.0
    assert WeComBotSender(clock).judge(200, {}, raw(wecom(45009))).retry_after == 60.0


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (200, b"", P, None),
        (200, b"<html/>", P, None),
        (502, b"", R, "http_502"),
        (404, b"", P, "http_404"),
    ],
)
def test_wecom_non_json_answers(
    status: int, body: bytes, kind: OutcomeKind, code: str | None
) -> None:
    check(WeComAppSender(clock).judge(status, {}, body), kind, code)
    check(WeComBotSender(clock).judge(status, {}, body), kind, code)


def test_wecom_token_answers() -> None:
    sender = WeComAppSender(clock)
    good = {"errcode": 0, "errmsg": "ok", "access_token": "tok", "expires_in": 7200}
    assert sender.parse_token(200, raw(good)) == ("tok", 7200.0)
    assert sender.parse_token(200, raw({**good, "expires_in": None})) == ("tok", 7200.0)
    for code, kind in [(40001, P), (40013, P), (60020, P), (45009, R), (-1, R)]:
        outcome = sender.parse_token(200, raw(wecom(code)))
        assert isinstance(outcome, Outcome) and outcome.kind is kind, code
    missing = sender.parse_token(200, raw({"errcode": 0, "errmsg": "ok"}))
    assert isinstance(missing, Outcome) and missing.kind is R
    assert isinstance(sender.parse_token(502, b"bad gateway"), Outcome)
    secret_hint = sender.parse_token(200, raw(wecom(40001, "invalid credential")))
    assert isinstance(secret_hint, Outcome) and "secret" in secret_hint.message


WECOM_BOT = [
    (wecom(0, "ok"), D, "0", False),
    (wecom(93000, "invalid webhook url"), P, "93000", False),
    (wecom(93004), P, "93004", False),
    (wecom(93008), P, "93008", False),
    (wecom(40058, "markdown.content exceed max length 4096"), P, "40058", False),
    (wecom(45002), P, "45002", False),
    (wecom(45009, "api freq out of limit"), R, "45009", True),
    (wecom(-1), R, "-1", False),
    (wecom(12345), P, "12345", False),
]


@pytest.mark.parametrize(("body", "kind", "code", "limited"), WECOM_BOT)
def test_wecom_bot(body: Any, kind: OutcomeKind, code: str, limited: bool) -> None:
    check(WeComBotSender(clock).judge(200, {}, raw(body)), kind, code, limited)


CUSTOM = [
    *[(status, D) for status in (200, 201, 202, 204)],
    *[(status, R) for status in (408, 425, 429, 500, 502, 503, 504)],
    *[(status, P) for status in (301, 302, 307, 308, 400, 401, 403, 404, 410, 422)],
]


@pytest.mark.parametrize(("status", "kind"), CUSTOM)
def test_custom(status: int, kind: OutcomeKind) -> None:
    outcome = CustomSender(clock).judge(status, {}, b"<html>whatever</html>")
    check(outcome, kind, f"http_{status}")


def test_custom_explains_gone_endpoints_and_redirects() -> None:
    sender = CustomSender(clock)
    assert "endpoint gone" in sender.judge(410, {}, b"").message
    assert "update the URL" in sender.judge(302, {"Location": "https://x"}, b"").message


def test_custom_honours_retry_after_seconds_and_dates_capped_at_an_hour() -> None:
    sender = CustomSender(clock)
    assert sender.judge(503, {"Retry-After": "120"}, b"").retry_after == 120.0
    date = email.utils.formatdate(NOW + 90, usegmt=True)
    assert sender.judge(429, {"retry-after": date}, b"").retry_after == 90.0
    assert sender.judge(503, {"Retry-After": "86400"}, b"").retry_after == 3600.0
    assert sender.judge(503, {"Retry-After": "soon"}, b"").retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        (email.utils.formatdate(NOW + 60, usegmt=True), 60.0),
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP-date
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected

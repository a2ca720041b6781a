"""DingTalk robot fake: methods, tokens, signing, keywords, shapes, size, rate and penalty."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from yarl import URL

from herald.fakeplatforms import FakePlatforms, ManualClock

from .helpers import dingtalk_sign, post_json, post_raw

pytestmark = pytest.mark.asyncio

OK = {"errcode": 0, "errmsg": "ok"}
TEXT = {"msgtype": "text", "text": {"content": "release done"}}
SECRET = "SECtestsecret"


def signed_url(fake: FakePlatforms, token: str, timestamp: str, encoded_sign: str) -> URL:
    """The URL exactly as given: aiohttp must not re-encode the sign we prepared."""
    raw = f"{fake.dingtalk_url(token)}&timestamp={timestamp}&sign={encoded_sign}"
    return URL(raw, encoded=True)


async def test_success(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("tok")
    assert await post_json(http, fake.dingtalk_url("tok"), TEXT) == (200, OK)
    [record] = fake.received("dingtalk", "tok")
    assert (record.code, record.delivered, record.json) == (0, True, TEXT)


async def test_get_is_43002(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("tok")
    async with http.get(fake.dingtalk_url("tok")) as response:
        assert response.status == 200
        assert await response.json() == {"errcode": 43002, "errmsg": "需要POST请求"}


async def test_missing_and_unknown_token(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    missing = await post_json(http, fake.base_url + "/robot/send", TEXT)
    assert missing == (200, {"errcode": 40035, "errmsg": "缺少参数 access_token"})
    empty = await post_json(http, fake.base_url + "/robot/send?access_token=", TEXT)
    assert empty[1]["errcode"] == 40035
    unknown = await post_json(http, fake.dingtalk_url("nope"), TEXT)
    assert unknown == (200, {"errcode": 300005, "errmsg": "token is not exist"})


# -- signing ---------------------------------------------------------------------------------

VECTOR_ONCE = "7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D"
VECTOR_TWICE = "7LVwF0dAF3%252F%252BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%253D"


async def test_vector_encoded_once_is_accepted(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_dingtalk_robot("signed", secret=SECRET)
    url = signed_url(fake, "signed", "1700000000000", VECTOR_ONCE)
    assert await post_json(http, url, TEXT) == (200, OK)


async def test_library_encoded_params_are_accepted(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_dingtalk_robot("signed", secret=SECRET)
    ts = str(int(clock() * 1000) - 5000)
    params = {"access_token": "signed", "timestamp": ts, "sign": dingtalk_sign(SECRET, ts)}
    async with http.post(fake.base_url + "/robot/send", params=params, json=TEXT) as response:
        assert await response.json() == OK


@pytest.mark.parametrize(
    "encoded_sign",
    [
        VECTOR_TWICE,  # the double-encoding bug (Apprise, KubeSphere)
        "7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s=",  # unencoded: "+" decodes to a space
        quote_plus(dingtalk_sign("SECother", 1700000000000)),
        "",
    ],
)
async def test_wrong_signatures_fail(
    fake: FakePlatforms, http: aiohttp.ClientSession, encoded_sign: str
) -> None:
    fake.add_dingtalk_robot("signed", secret=SECRET)
    url = signed_url(fake, "signed", "1700000000000", encoded_sign)
    assert await post_json(http, url, TEXT) == (
        200,
        {"errcode": 310000, "errmsg": "sign not match"},
    )


async def test_missing_sign_fails(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("signed", secret=SECRET)
    status, body = await post_json(http, fake.dingtalk_url("signed"), TEXT)
    assert (status, body["errcode"]) == (200, 310000)


@pytest.mark.parametrize(
    "timestamp",
    ["1700000000", "1700003600001", "1699996399999", "17000000000000", "abcdefghijklm"],
)
async def test_invalid_timestamps(
    fake: FakePlatforms, http: aiohttp.ClientSession, timestamp: str
) -> None:
    fake.add_dingtalk_robot("signed", secret=SECRET)
    url = signed_url(fake, "signed", timestamp, quote(dingtalk_sign(SECRET, timestamp), safe=""))
    assert await post_json(http, url, TEXT) == (
        200,
        {"errcode": 310000, "errmsg": "invalid timestamp"},
    )


@pytest.mark.parametrize("timestamp", ["1700003600000", "1699996400000"])
async def test_timestamp_window_edges_pass(
    fake: FakePlatforms, http: aiohttp.ClientSession, timestamp: str
) -> None:
    fake.add_dingtalk_robot("signed", secret=SECRET)
    url = signed_url(fake, "signed", timestamp, quote(dingtalk_sign(SECRET, timestamp), safe=""))
    assert await post_json(http, url, TEXT) == (200, OK)


# -- keywords, IP, shapes, size --------------------------------------------------------------


async def test_keywords(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("kw", keywords=["Herald"])
    url = fake.dingtalk_url("kw")
    miss = {"msgtype": "text", "text": {"content": "hi"}, "at": {"atUserIds": ["Herald"]}}
    assert await post_json(http, url, miss) == (
        200,
        {"errcode": 310000, "errmsg": "keywords not in content"},
    )
    title_only = {"msgtype": "markdown", "markdown": {"title": "Herald", "text": "body"}}
    assert await post_json(http, url, title_only) == (200, OK)


async def test_ip_allowlist(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("ip", ip_allowlist=["10.1.2.3"])
    answer = await post_json(http, fake.dingtalk_url("ip"), TEXT)
    assert answer == (200, {"errcode": 310000, "errmsg": "ip 127.0.0.1 not in whitelist"})


@pytest.mark.parametrize(
    "body",
    [
        TEXT,
        {"msgtype": "markdown", "markdown": {"title": "T", "text": "# hi"}},
        {"msgtype": "link", "link": {"title": "T", "text": "b", "messageUrl": "https://x"}},
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "T",
                "text": "b",
                "singleTitle": "Go",
                "singleURL": "https://x",
            },
        },
        {
            "msgtype": "actionCard",
            "actionCard": {"title": "T", "text": "b", "btns": [{"title": "A", "actionURL": "u"}]},
        },
        {"msgtype": "feedCard", "feedCard": {"links": [{"title": "T", "messageURL": "u"}]}},
    ],
)
async def test_each_msgtype_is_accepted(
    fake: FakePlatforms, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    fake.add_dingtalk_robot("tok")
    assert await post_json(http, fake.dingtalk_url("tok"), body) == (200, OK)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"msgtype": "text", "markdown": {"title": "T", "text": "x"}}, 400202),  # Apprise bug
        ({"msgtype": "markdown", "markdown": {"text": "x"}}, 400402),
        ({"msgtype": "markdown", "markdown": {"title": "x"}}, 400403),
        ({"msgtype": "Markdown", "Markdown": {"title": "T", "text": "x"}}, 300001),
        ({"text": {"content": "x"}}, 40035),
        ({"msgtype": "actionCard", "actionCard": {"title": "T", "text": "x"}}, 40035),
        ({"msgtype": "feedCard", "feedCard": {"links": []}}, 40035),
    ],
)
async def test_shape_errors(
    fake: FakePlatforms, http: aiohttp.ClientSession, body: dict[str, Any], code: int
) -> None:
    fake.add_dingtalk_robot("tok")
    status, answer = await post_json(http, fake.dingtalk_url("tok"), body)
    assert (status, answer["errcode"]) == (200, code)


async def test_non_json(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("tok")
    answer = await post_raw(http, fake.dingtalk_url("tok"), b"msgtype=text")
    assert answer == (200, {"errcode": 40035, "errmsg": "缺少参数 json"})


async def test_size_cap_is_20000_bytes(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_dingtalk_robot("tok")
    skeleton = b'{"msgtype":"text","text":{"content":""}}'
    for size, expected in ((20_000, 0), (20_001, 460101)):
        body = skeleton.replace(b'""', b'"' + b"x" * (size - len(skeleton)) + b'"')
        assert len(body) == size
        answer = (await post_raw(http, fake.dingtalk_url("tok"), body))[1]
        assert answer["errcode"] == expected
    assert answer["errmsg"] == "message too long, exceed 20000 bytes"


# -- rate limit and penalty ------------------------------------------------------------------

TOO_FAST = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}


async def _codes(http: aiohttp.ClientSession, url: str, count: int) -> list[int]:
    return [(await post_json(http, url, TEXT))[1]["errcode"] for _ in range(count)]


async def test_twenty_per_minute_then_ten_minute_penalty(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_dingtalk_robot("tok")
    url = fake.dingtalk_url("tok")
    assert await _codes(http, url, 20) == [0] * 20
    assert await post_json(http, url, TEXT) == (200, TOO_FAST)
    penalty_start = clock()
    assert fake.dingtalk_blocked_until("tok") == penalty_start + 600
    clock.advance(61)  # the minute window is empty, but the penalty holds
    assert await _codes(http, url, 1) == [130101]
    clock.advance(599 - 61)  # retries during the penalty do not extend it
    assert await _codes(http, url, 3) == [130101] * 3
    clock.advance(1)
    assert await _codes(http, url, 1) == [0]
    assert fake.dingtalk_blocked_until("tok") is None


async def test_window_slides(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_dingtalk_robot("tok")
    url = fake.dingtalk_url("tok")
    assert await _codes(http, url, 10) == [0] * 10
    clock.advance(30)
    assert await _codes(http, url, 10) == [0] * 10
    clock.advance(30.5)  # the first ten left the window; the second ten are still inside
    assert await _codes(http, url, 10) == [0] * 10
    assert await _codes(http, url, 1) == [130101]


async def test_gateway_mode_has_no_errcode(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_dingtalk_robot("gw", gateway_mode=True)
    status, body = await post_json(http, fake.dingtalk_url("gw"), TEXT)
    assert status == 200
    assert "errcode" not in body
    assert (body["status"], body["wait"], body["punish"]) == (1111, 5, "deny")

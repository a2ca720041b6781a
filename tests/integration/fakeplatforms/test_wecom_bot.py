"""WeCom group robot fake: key, UTF-8 byte caps per type, 20/min limit, error shape."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from herald.fakeplatforms import FakePlatforms, ManualClock

from .helpers import assert_wecom_error, post_json, post_raw

pytestmark = pytest.mark.asyncio

OK = {"errcode": 0, "errmsg": "ok"}


def body(msgtype: str, content: str) -> dict[str, Any]:
    return {"msgtype": msgtype, msgtype: {"content": content}}


async def test_success(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_wecom_bot("k1")
    assert await post_json(http, fake.wecom_bot_url("k1"), body("text", "hi")) == (200, OK)
    [record] = fake.received("wecom_bot", "k1")
    assert (record.code, record.delivered) == (0, True)


async def test_unknown_key(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    status, answer = await post_json(http, fake.wecom_bot_url("nope"), body("text", "hi"))
    assert status == 200
    assert_wecom_error(answer, 93000, "invalid webhook url")
    missing = await post_json(http, fake.base_url + "/cgi-bin/webhook/send", body("text", "x"))
    assert missing[1]["errcode"] == 93000


@pytest.mark.parametrize(
    ("msgtype", "fits", "too_long", "cap"),
    [
        ("text", "a" * 2048, "a" * 2049, 2048),
        ("text", "运" * 682, "运" * 683, 2048),
        ("markdown", "发" * 1365, "发" * 1366, 4096),  # 1366 CJK chars = 4098 bytes
        ("markdown_v2", "布" * 1365, "布" * 1366, 4096),
    ],
)
async def test_byte_caps(
    fake: FakePlatforms,
    http: aiohttp.ClientSession,
    msgtype: str,
    fits: str,
    too_long: str,
    cap: int,
) -> None:
    fake.add_wecom_bot("k1")
    url = fake.wecom_bot_url("k1")
    assert await post_json(http, url, body(msgtype, fits)) == (200, OK)
    status, answer = await post_json(http, url, body(msgtype, too_long))
    assert status == 200
    assert_wecom_error(answer, 40058, f"{msgtype}.content exceed max length {cap}")


async def test_shape_errors(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_wecom_bot("k1")
    url = fake.wecom_bot_url("k1")
    for bad in ({"msgtype": "sms"}, {"msgtype": "text", "markdown": {"content": "x"}}, {}):
        assert_wecom_error((await post_json(http, url, bad))[1], 40008, "invalid message type")
    assert (await post_json(http, url, body("markdown", "")))[1]["errcode"] == 44004
    assert (await post_raw(http, url, b"nope"))[1]["errcode"] == 47001
    card = {"msgtype": "template_card", "template_card": {"card_type": "text_notice"}}
    assert (await post_json(http, url, card))[1] == OK


async def test_twenty_per_minute(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_wecom_bot("k1")
    url = fake.wecom_bot_url("k1")
    for _ in range(20):
        assert (await post_json(http, url, body("text", "x")))[1] == OK
        clock.advance(1)
    answer = (await post_json(http, url, body("text", "x")))[1]
    assert_wecom_error(answer, 45009, "api freq out of limit")
    clock.advance(40)  # the first send leaves the sliding window
    assert (await post_json(http, url, body("text", "x")))[1] == OK
    assert (await post_json(http, url, body("text", "x")))[1]["errcode"] == 45009

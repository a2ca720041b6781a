"""Feishu custom bot fake: every documented answer (docs/platforms.md §1, §6)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from herald.fakeplatforms import FakePlatforms, ManualClock

from .helpers import feishu_sign, post_json, post_raw

pytestmark = pytest.mark.asyncio

SUCCESS = {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
BAD_REQUEST = {"code": 9499, "msg": "Bad Request", "data": {}}
SIGN_FAIL = "sign match fail or timestamp is not within one hour from current time"
TEXT = {"msg_type": "text", "content": {"text": "deploy finished"}}


async def test_success_body_and_record(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_feishu_bot("tok")
    assert await post_json(http, fake.feishu_url("tok"), TEXT) == (200, SUCCESS)
    [record] = fake.received("feishu", "tok")
    assert (record.code, record.status, record.delivered) == (0, 200, True)
    assert record.json == TEXT
    assert record.size > 0
    assert record.received_at == 1_700_000_000.0


async def test_trailing_slash_is_accepted(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_feishu_bot("tok")
    assert await post_json(http, fake.feishu_url("tok") + "/", TEXT) == (200, SUCCESS)


async def test_legacy_success_shape(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_feishu_bot("old", legacy=True)
    legacy = {"Extra": None, "StatusCode": 0, "StatusMessage": "success"}
    assert await post_json(http, fake.feishu_url("old"), TEXT) == (200, legacy)


async def test_unknown_token(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    status, body = await post_json(http, fake.feishu_url("nope"), TEXT)
    assert status == 200
    assert body["code"] == 19001
    assert body["msg"] == "param invalid: incoming webhook access token invalid"


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
async def test_malformed_body_is_http_400(
    fake: FakePlatforms, http: aiohttp.ClientSession, raw: bytes
) -> None:
    fake.add_feishu_bot("tok")
    assert await post_raw(http, fake.feishu_url("tok"), raw) == (400, BAD_REQUEST)


def _body_of_size(size: int) -> bytes:
    skeleton = b'{"msg_type":"text","content":{"text":""}}'
    return skeleton.replace(b'"text":""', b'"text":"' + b"a" * (size - len(skeleton)) + b'"')


async def test_body_size_cap_is_20480_bytes(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_feishu_bot("tok")
    assert len(_body_of_size(20_480)) == 20_480
    assert await post_raw(http, fake.feishu_url("tok"), _body_of_size(20_480)) == (200, SUCCESS)
    too_big = _body_of_size(20_481)
    assert await post_raw(http, fake.feishu_url("tok"), too_big) == (400, BAD_REQUEST)


async def test_missing_msg_type(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_feishu_bot("tok")
    status, body = await post_json(http, fake.feishu_url("tok"), {"content": {"text": "x"}})
    assert (status, body["code"], body["msg"]) == (200, 19002, "params error, msg_type need")


# -- signature -------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["1661860880", 1661860880])
async def test_published_vector_is_accepted(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock, timestamp: Any
) -> None:
    clock.set(1661860880 + 30)
    fake.add_feishu_bot("signed", secret="xxx")
    body = {**TEXT, "timestamp": timestamp, "sign": "QnWVTSBe6FmQDE0bG6X0mURbI+DnvVyu1h+j5dHOjrU="}
    assert await post_json(http, fake.feishu_url("signed"), body) == (200, SUCCESS)


async def _signed_code(
    fake: FakePlatforms, http: aiohttp.ClientSession, timestamp: Any, sign: Any
) -> tuple[int, str]:
    body = {**TEXT, "timestamp": timestamp, "sign": sign}
    status, answer = await post_json(http, fake.feishu_url("signed"), body)
    assert status == 200
    return answer["code"], answer["msg"]


async def test_dingtalk_style_signature_is_rejected(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    clock.set(1661860880)
    fake.add_feishu_bot("signed", secret="xxx")
    negative = "dIUMcehSFkPlWOGqwoP5EFcartyN67QSY9wbVW+hTbE="
    assert await _signed_code(fake, http, "1661860880", negative) == (19021, SIGN_FAIL)


async def test_signature_clock_window_is_one_hour(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot("signed", secret="s3cret")
    now = int(clock())
    for ts in (now - 3600, now + 3600):
        assert (await _signed_code(fake, http, str(ts), feishu_sign("s3cret", ts)))[0] == 0
    for ts in (now - 3601, now + 3601):
        assert (await _signed_code(fake, http, str(ts), feishu_sign("s3cret", ts)))[0] == 19021


async def test_bad_signatures_fail_with_19021(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot("signed", secret="s3cret")
    now = int(clock())
    good = feishu_sign("s3cret", now)
    cases: list[tuple[Any, Any]] = [
        (now * 1000, feishu_sign("s3cret", now * 1000)),  # milliseconds, not seconds
        (str(now), "wrong"),
        (str(now), None),  # sign missing
        (None, good),  # timestamp missing
        (True, good),
        (f"{now}.0", good),
        (str(now), feishu_sign("other", now)),
    ]
    for timestamp, sign in cases:
        assert await _signed_code(fake, http, timestamp, sign) == (19021, SIGN_FAIL)


async def test_unsigned_bot_ignores_sign_fields(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_feishu_bot("tok")
    body = {**TEXT, "timestamp": "1", "sign": "garbage"}
    assert await post_json(http, fake.feishu_url("tok"), body) == (200, SUCCESS)


# -- keywords and IP -------------------------------------------------------------------------


async def test_keywords_scan_text_and_titles_not_urls(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_feishu_bot("kw", keywords=["herald"])
    url = fake.feishu_url("kw")
    only_in_href: dict[str, Any] = {
        "msg_type": "post",
        "content": {
            "post": {
                "zh_cn": {
                    "title": "release",
                    "content": [[{"tag": "a", "text": "logs", "href": "https://herald.example"}]],
                }
            }
        },
    }
    status, body = await post_json(http, url, only_in_href)
    assert (status, body["code"], body["msg"]) == (200, 19024, "Key Words Not Found")
    only_in_href["content"]["post"]["zh_cn"]["title"] = "herald release"
    assert await post_json(http, url, only_in_href) == (200, SUCCESS)
    card = {"msg_type": "interactive", "card": {"header": {"title": {"content": "herald"}}}}
    assert await post_json(http, url, card) == (200, SUCCESS)


async def test_ip_allowlist(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.add_feishu_bot("ip", ip_allowlist=["10.0.0.*", "192.168.0.0/16"])
    status, body = await post_json(http, fake.feishu_url("ip"), TEXT)
    assert (status, body["code"], body["msg"]) == (200, 19022, "Ip Not Allowed")
    fake.add_feishu_bot("ip", ip_allowlist=["127.0.0.0/8"])
    assert await post_json(http, fake.feishu_url("ip"), TEXT) == (200, SUCCESS)


# -- message shapes --------------------------------------------------------------------------

V2_OK = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "hi"}]}}
V2_ACTION = {"schema": "2.0", "body": {"elements": [{"tag": "action", "actions": []}]}}


@pytest.mark.parametrize(
    "body",
    [
        {"msg_type": "text", "content": {"text": "hi"}},
        {"msg_type": "post", "content": {"post": {"en_us": {"content": [[]]}}}},
        {"msg_type": "image", "content": {"image_key": "img_1"}},
        {"msg_type": "share_chat", "content": {"share_chat_id": "oc_1"}},
        {"msg_type": "interactive", "card": {}},
        {"msg_type": "interactive", "card": {"elements": [{"tag": "action", "actions": []}]}},
        {"msg_type": "interactive", "card": V2_OK},
    ],
)
async def test_valid_shapes(
    fake: FakePlatforms, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    fake.add_feishu_bot("tok")
    assert await post_json(http, fake.feishu_url("tok"), body) == (200, SUCCESS)


@pytest.mark.parametrize(
    "body",
    [
        {"msg_type": "text", "content": {"markdown": "hi"}},
        {"msg_type": "text"},
        {"msg_type": "post", "content": {"post": {"title": "no locale"}}},
        {"msg_type": "interactive", "content": {"elements": []}},  # card under content
        {"msg_type": "interactive", "card": '{"elements": []}'},  # stringified card
        {"msg_type": "interactive", "card": {"schema": "2.0", "elements": []}},
    ],
)
async def test_invalid_shapes_are_bad_requests(
    fake: FakePlatforms, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    fake.add_feishu_bot("tok")
    assert await post_json(http, fake.feishu_url("tok"), body) == (400, BAD_REQUEST)


async def test_v2_card_rejects_legacy_action(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.add_feishu_bot("tok")
    status, body = await post_json(
        http, fake.feishu_url("tok"), {"msg_type": "interactive", "card": V2_ACTION}
    )
    assert status == 200
    assert body["code"] not in (0, None)


# -- rate limit ------------------------------------------------------------------------------


async def test_five_per_second(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot("tok")
    url = fake.feishu_url("tok")
    for _ in range(5):
        assert (await post_json(http, url, TEXT))[1]["code"] == 0
    status, body = await post_json(http, url, TEXT)
    assert (status, body["code"], body["data"]) == (200, 11232, {})
    assert body["msg"].startswith("frequency limited psm[")
    clock.advance(1.0)
    assert (await post_json(http, url, TEXT))[1]["code"] == 0


async def test_hundred_per_minute(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot("tok")
    url = fake.feishu_url("tok")
    for i in range(100):
        if i and i % 5 == 0:
            clock.advance(1.0)
        assert (await post_json(http, url, TEXT))[1]["code"] == 0
    clock.advance(1.0)  # the per-second window is clear; only the minute cap applies
    assert (await post_json(http, url, TEXT))[1]["code"] == 11232
    clock.advance(60.0 - 20.0)  # the first five sends leave the window
    assert (await post_json(http, url, TEXT))[1]["code"] == 0
    assert len(fake.received("feishu", code=11232)) == 1

"""WeCom app API fake: token lifecycle, send validation, recipients, quotas, duplicates."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from herald.fakeplatforms import FakePlatforms, ManualClock

from .helpers import assert_wecom_error, post_json, post_raw

pytestmark = pytest.mark.asyncio

CORP, SECRET, AGENT = "ww-corp", "app-secret", 1000002


def message(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "touser": "alice",
        "msgtype": "text",
        "agentid": AGENT,
        "text": {"content": "release done"},
    }
    return {**body, **overrides}


async def get_token(
    fake: FakePlatforms, http: aiohttp.ClientSession, corp: str = CORP, secret: str = SECRET
) -> dict[str, Any]:
    params = {"corpid": corp, "corpsecret": secret}
    async with http.get(fake.wecom_api_base + "/cgi-bin/gettoken", params=params) as response:
        assert response.status == 200
        payload: dict[str, Any] = await response.json()
        return payload


async def send(
    fake: FakePlatforms, http: aiohttp.ClientSession, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    url = f"{fake.wecom_api_base}/cgi-bin/message/send?access_token={token}"
    status, payload = await post_json(http, url, body)
    assert status == 200
    return payload


@pytest.fixture
def app(fake: FakePlatforms) -> FakePlatforms:
    fake.add_wecom_app(CORP, SECRET, AGENT, ["alice", "Bob", "carol"])
    return fake


async def test_gettoken(app: FakePlatforms, http: aiohttp.ClientSession) -> None:
    first = await get_token(app, http)
    assert (first["errcode"], first["errmsg"], first["expires_in"]) == (0, "ok", 7200)
    assert len(first["access_token"]) >= 64
    again = await get_token(app, http)
    assert again["access_token"] == first["access_token"]
    [record, _] = app.received("wecom_token", CORP)
    assert record.code == 0


async def test_gettoken_errors(app: FakePlatforms, http: aiohttp.ClientSession) -> None:
    assert_wecom_error(await get_token(app, http, secret="wrong"), 40001, "invalid credential")
    assert_wecom_error(await get_token(app, http, corp="other"), 40013, "invalid corpid")
    assert (await get_token(app, http, corp=""))["errcode"] == 41002
    assert (await get_token(app, http, secret=""))["errcode"] == 41004


async def test_send_ok(app: FakePlatforms, http: aiohttp.ClientSession) -> None:
    token = (await get_token(app, http))["access_token"]
    answer = await send(app, http, token, message())
    assert (answer["errcode"], answer["errmsg"]) == (0, "ok")
    assert "invaliduser" not in answer
    assert answer["msgid"]
    [record] = app.received("wecom_app", f"{CORP}/{AGENT}")
    assert (record.delivered, record.dropped) == (True, ())


async def test_token_errors(
    app: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    assert_wecom_error(await send(app, http, "", message()), 41001, "access_token missing")
    assert_wecom_error(await send(app, http, "bogus", message()), 40014, "invalid access_token")
    token = (await get_token(app, http))["access_token"]
    clock.advance(7199)
    assert (await send(app, http, token, message()))["errcode"] == 0
    clock.advance(1)
    assert_wecom_error(await send(app, http, token, message()), 42001, "access_token expired")
    fresh = (await get_token(app, http))["access_token"]
    assert fresh != token
    assert (await send(app, http, fresh, message()))["errcode"] == 0


async def test_forced_expiry_and_invalidation(
    app: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    token = (await get_token(app, http))["access_token"]
    assert app.expire_wecom_tokens(CORP) == [token]
    assert (await send(app, http, token, message()))["errcode"] == 42001
    fresh = (await get_token(app, http))["access_token"]
    assert fresh != token
    assert app.invalidate_wecom_tokens() == [fresh]
    assert (await send(app, http, fresh, message()))["errcode"] == 40014
    assert (await get_token(app, http))["access_token"] not in (token, fresh)


async def test_agentid_must_match(app: FakePlatforms, http: aiohttp.ClientSession) -> None:
    token = (await get_token(app, http))["access_token"]
    answer = await send(app, http, token, message(agentid=1000003))
    assert_wecom_error(answer, 40056, "invalid agentid")
    assert (await send(app, http, token, message(agentid=str(AGENT))))["errcode"] == 0


async def test_body_errors(app: FakePlatforms, http: aiohttp.ClientSession) -> None:
    token = (await get_token(app, http))["access_token"]
    url = f"{app.wecom_api_base}/cgi-bin/message/send?access_token={token}"
    assert (await post_raw(http, url, b"{broken"))[1]["errcode"] == 47001
    for bad in (message(msgtype="sms"), message(msgtype="markdown"), message(msgtype=None)):
        assert_wecom_error(await send(app, http, token, bad), 40008, "invalid message type")
    empty = message(text={"content": ""})
    assert (await send(app, http, token, empty))["errcode"] == 44004


async def test_markdown_cap_counts_utf8_bytes(
    app: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    token = (await get_token(app, http))["access_token"]
    fits = "发" * 682  # 2046 bytes
    too_long = "发" * 683  # 2049 bytes although only 683 characters
    ok = await send(app, http, token, message(msgtype="markdown", markdown={"content": fits}))
    assert ok["errcode"] == 0
    answer = await send(
        app, http, token, message(msgtype="markdown", markdown={"content": too_long})
    )
    assert_wecom_error(answer, 40058, "markdown.content exceed max length 2048")


async def test_long_text_is_truncated_not_rejected(
    app: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    token = (await get_token(app, http))["access_token"]
    answer = await send(app, http, token, message(text={"content": "x" * 3000}))
    assert answer["errcode"] == 0
    assert "truncated" in app.received("wecom_app")[-1].note


async def test_recipients(app: FakePlatforms, http: aiohttp.ClientSession) -> None:
    token = (await get_token(app, http))["access_token"]
    empty = message(touser="", toparty="", totag="")
    assert (await send(app, http, token, empty))["errcode"] == 82001
    partial = await send(app, http, token, message(touser="Alice|U3|u4", toparty="9"))
    assert partial["errcode"] == 0
    assert partial["invaliduser"] == "u3|u4"
    assert partial["invalidparty"] == "9"
    none_valid = await send(app, http, token, message(touser="ghost", totag="7"))
    assert_wecom_error(none_valid, 81013, "user & party & tag all invalid")


async def test_per_member_quota_drops_silently(
    app: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    token = (await get_token(app, http))["access_token"]
    for _ in range(30):
        assert (await send(app, http, token, message()))["errcode"] == 0
    answer = await send(app, http, token, message(touser="alice|bob"))
    assert (answer["errcode"], answer.get("invaliduser")) == (0, None)
    last = app.received("wecom_app")[-1]
    assert (last.delivered, last.dropped) == (True, ("alice",))  # bob still got it
    assert (await send(app, http, token, message()))["errcode"] == 0
    assert app.received("wecom_app")[-1].delivered is False
    clock.advance(60)
    await send(app, http, token, message())
    assert app.received("wecom_app")[-1].delivered is True


async def test_duplicate_check(
    app: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    token = (await get_token(app, http))["access_token"]
    body = message(enable_duplicate_check=1, duplicate_check_interval=600)
    for expected in (True, False):
        assert (await send(app, http, token, body))["errcode"] == 0
        assert app.received("wecom_app")[-1].delivered is expected
    assert app.received("wecom_app")[-1].note == "duplicate suppressed"
    assert (await send(app, http, token, message()))["errcode"] == 0  # check off: delivered
    assert app.received("wecom_app")[-1].delivered is True
    clock.advance(600)
    await send(app, http, token, body)
    assert app.received("wecom_app")[-1].delivered is True


async def test_touser_all_reaches_every_member(
    app: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    token = (await get_token(app, http))["access_token"]
    answer = await send(app, http, token, message(touser="@all", toparty="404"))
    assert answer["errcode"] == 0
    assert "invalidparty" not in answer

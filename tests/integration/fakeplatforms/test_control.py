"""Control API, configuration documents, the threaded runner and the blocking `serve`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from herald.fakeplatforms import FakePlatforms, FakePlatformsThread, running_fake_platforms

TEXT = {"msg_type": "text", "content": {"text": "hello"}}


async def call(
    http: aiohttp.ClientSession, method: str, url: str, payload: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=payload) as response:
        return response.status, await response.json()


@pytest.mark.asyncio
async def test_register_send_and_list(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    base = fake.base_url + "/_fake"
    bot = {"token": "cfg", "keywords": ["hello"]}
    assert (await call(http, "POST", base + "/feishu/bots", bot))[0] == 201
    assert (await call(http, "POST", fake.feishu_url("cfg"), TEXT))[1]["code"] == 0
    status, listed = await call(http, "GET", base + "/requests?platform=feishu&code=0")
    assert status == 200
    [record] = listed["requests"]
    assert (record["key"], record["json"], record["delivered"]) == ("cfg", TEXT, True)
    assert record["size"] == len(json.dumps(TEXT).encode())
    await call(http, "POST", base + "/reset", {})
    assert (await call(http, "GET", base + "/requests"))[1] == {"requests": []}
    assert (await call(http, "POST", fake.feishu_url("cfg"), TEXT))[1]["code"] == 19001


@pytest.mark.asyncio
async def test_endpoint_and_limits_via_api(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    base = fake.base_url + "/_fake"
    script = {"behaviour": [{"mode": "status", "status": 503, "retry_after": 2}, {"mode": "ok"}]}
    assert (await call(http, "PUT", base + "/endpoints/e1", script))[0] == 200
    async with http.post(fake.endpoint_url("e1"), data=b"{}") as response:
        assert (response.status, response.headers["Retry-After"]) == (503, "2")
    stats = (await call(http, "GET", base + "/endpoints/e1/stats"))[1]
    assert stats["requests"] == 1
    limits = (await call(http, "PATCH", base + "/limits", {"wecom_bot_per_minute": 1}))[1]
    assert limits["wecom_bot_per_minute"] == 1
    assert fake.limits.wecom_bot_per_minute == 1


@pytest.mark.asyncio
async def test_wecom_token_controls_via_api(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    base = fake.base_url + "/_fake"
    app = {"corp_id": "c", "secret": "s", "agent_id": 1, "users": ["u"]}
    assert (await call(http, "POST", base + "/wecom/apps", app))[0] == 201
    token = (
        await call(http, "GET", fake.wecom_api_base + "/cgi-bin/gettoken?corpid=c&corpsecret=s")
    )[1]
    expired = await call(http, "POST", base + "/wecom/tokens/expire", {"corp_id": "c"})
    assert expired == (200, {"tokens": [token["access_token"]]})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/feishu/bots", {"secret": "no token"}),
        ("/dingtalk/robots", {"token": "t", "surprise": 1}),
        ("/endpoints/x", {"behaviour": {"mode": "explode"}}),
        ("/limits", {"not_a_limit": 3}),
    ],
)
async def test_invalid_control_input_is_400(
    fake: FakePlatforms, http: aiohttp.ClientSession, path: str, payload: Any
) -> None:
    method = {"/endpoints/x": "PUT", "/limits": "PATCH"}.get(path, "POST")
    status, body = await call(http, method, fake.base_url + "/_fake" + path, payload)
    assert status == 400
    assert body["error"]


CONFIG: dict[str, Any] = {
    "feishu": [{"token": "f1", "secret": "s"}],
    "dingtalk": [{"token": "d1", "keywords": ["x"]}],
    "wecom_apps": [{"corp_id": "c", "secret": "s", "agent_id": 7, "users": ["u"]}],
    "wecom_bots": ["k1", {"key": "k2", "per_minute": 1}],
    "endpoints": [{"name": "e", "behaviour": {"mode": "status", "status": 418}}],
    "limits": {"dingtalk_per_window": 2},
}


@pytest.mark.asyncio
async def test_config_document(http: aiohttp.ClientSession) -> None:
    async with running_fake_platforms(config=CONFIG) as fake:
        assert fake.limits.dingtalk_per_window == 2
        assert isinstance(fake.limits.dingtalk_per_window, int)
        async with http.post(fake.endpoint_url("e")) as response:
            assert response.status == 418
        answer = await call(http, "POST", fake.wecom_bot_url("k2"), {"msgtype": "x"})
        assert (answer[0], answer[1]["errcode"]) == (200, 40008)


def test_thread_runner_serves_sync_code() -> None:
    with FakePlatformsThread() as fake:
        fake.add_dingtalk_robot("t")
        body = json.dumps({"msgtype": "text", "text": {"content": "hi"}}).encode()
        assert sync_post(fake.dingtalk_url("t"), body) == {"errcode": 0, "errmsg": "ok"}
        assert [r.code for r in fake.received("dingtalk")] == [0]


def test_thread_runner_reports_bind_errors() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(OSError, match=r"(?i)address already in use"),
            FakePlatformsThread(port=port),
        ):
            pass


def sync_post(url: str, body: bytes) -> Any:
    """POST JSON with the standard library, as a synchronous caller would."""
    parts = urlsplit(url)
    connection = HTTPConnection(parts.netloc, timeout=5)
    try:
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        connection.request("POST", target, body, {"Content-Type": "application/json"})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_blocks_and_answers() -> None:
    port = _free_port()
    code = (
        "from herald.fakeplatforms import serve\n"
        f"serve('127.0.0.1', {port}, {{'wecom_bots': ['k']}})\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k"
        body = json.dumps({"msgtype": "text", "text": {"content": "hi"}}).encode()
        assert _post_when_up(url, body) == {"errcode": 0, "errmsg": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _post_when_up(url: str, body: bytes) -> Any:
    deadline = time.monotonic() + 8
    while True:
        try:
            return sync_post(url, body)
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

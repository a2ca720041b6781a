"""Custom endpoint fake: every scripted mode, recording, Standard Webhooks verification."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest

from herald.fakeplatforms import Behaviour, FakePlatforms, ManualClock

from .helpers import standard_webhook_signature

pytestmark = pytest.mark.asyncio

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


async def post(
    http: aiohttp.ClientSession, url: str, data: bytes = b"{}", **kwargs: Any
) -> tuple[int, bytes, dict[str, str]]:
    async with http.post(url, data=data, allow_redirects=False, **kwargs) as response:
        return response.status, await response.read(), dict(response.headers)


async def test_unregistered_name_is_404(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    assert (await post(http, fake.endpoint_url("ghost")))[0] == 404
    assert fake.received("endpoint", "ghost")[0].status == 404


async def test_ok_modes(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.set_endpoint("a")
    fake.set_endpoint("b", Behaviour.ok(200, b'{"received":true}'))
    assert (await post(http, fake.endpoint_url("a")))[:2] == (204, b"")
    assert (await post(http, fake.endpoint_url("b")))[:2] == (200, b'{"received":true}')


async def test_status_with_retry_after(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.set_endpoint("busy", Behaviour.with_status(429, "slow down", retry_after=7))
    status, content, headers = await post(http, fake.endpoint_url("busy"))
    assert (status, content, headers["Retry-After"]) == (429, b"slow down", "7")


async def test_garbage_and_redirect(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.set_endpoint("junk", Behaviour.garbage())
    fake.set_endpoint("moved", Behaviour.redirect("https://elsewhere.invalid/hook"))
    status, content, _ = await post(http, fake.endpoint_url("junk"))
    assert status == 200
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(content)
    status, _, headers = await post(http, fake.endpoint_url("moved"))
    assert (status, headers["Location"]) == (302, "https://elsewhere.invalid/hook")


async def test_reset_closes_without_response(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.set_endpoint("rst", Behaviour.reset())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, fake.endpoint_url("rst"))
    [record] = fake.received("endpoint", "rst")
    assert (record.status, record.note, record.delivered) == (None, "reset", False)


async def test_hang_outlasts_client_timeout(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.set_endpoint("slow", Behaviour.hang(5.0))
    with pytest.raises(asyncio.TimeoutError):
        await post(http, fake.endpoint_url("slow"), timeout=aiohttp.ClientTimeout(total=0.2))
    [record] = fake.received("endpoint", "slow")
    assert (record.status, record.note) == (None, "hang")  # recorded on arrival, never answered


async def test_hang_then_answer(fake: FakePlatforms, http: aiohttp.ClientSession) -> None:
    fake.set_endpoint("late", Behaviour.hang(0.05, then=Behaviour.with_status(503)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await post(http, fake.endpoint_url("late")))[0] == 503
    assert loop.time() - started >= 0.05
    assert fake.received("endpoint", "late")[0].note == "hang, then status"


async def test_script_fails_twice_then_succeeds(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    fake.set_endpoint(
        "flaky", [Behaviour.with_status(500), Behaviour.with_status(502), Behaviour.ok()]
    )
    statuses = [(await post(http, fake.endpoint_url("flaky")))[0] for _ in range(4)]
    assert statuses == [500, 502, 204, 204]
    fake.reset(keep_registrations=True)
    assert (await post(http, fake.endpoint_url("flaky")))[0] == 500


async def test_records_everything(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.set_endpoint("rec")
    url = fake.endpoint_url("rec") + "?a=1"
    async with http.put(url, data=b"\x00raw", headers={"X-Trace": "t-1"}) as response:
        assert response.status == 204
    [record] = fake.received("endpoint", "rec")
    assert (record.method, record.path, record.query) == ("PUT", "/hook/rec", {"a": "1"})
    assert record.headers["x-trace"] == "t-1"
    assert (record.body, record.json, record.received_at) == (b"\x00raw", None, clock())


# -- Standard Webhooks -----------------------------------------------------------------------


def signed_headers(
    msg_id: str, timestamp: int, body: bytes, secret: str = SECRET
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhook_signature(secret, msg_id, timestamp, body),
    }


async def test_signature_verification(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.set_endpoint("sig", secret=SECRET)
    url = fake.endpoint_url("sig")
    now = int(clock())
    body = b'{"type":"release.succeeded"}'
    other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    both = signed_headers("m2", now, body)
    both["webhook-signature"] = "v1,AAAA " + both["webhook-signature"]
    cases = [
        (signed_headers("m1", now, body), body, True),
        (both, body, True),  # one matching entry among several is enough
        (signed_headers("m3", now - 300, body), body, True),
        (signed_headers("m4", now, body), body + b" ", False),  # tampered body
        (signed_headers("m5", now - 301, body), body, False),  # stale
        (signed_headers("m6", now + 301, body), body, False),  # from the future
        (signed_headers("m7", now, body, other_secret), body, False),
        ({}, body, False),
    ]
    for headers, sent, _ in cases:
        await post(http, url, sent, headers=headers)
    recorded = [r.signature_valid for r in fake.received("endpoint", "sig")]
    assert recorded == [valid for *_, valid in cases]


async def test_enforced_signature_rejects_with_401(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.set_endpoint("strict", secret=SECRET, enforce_signature=True)
    url = fake.endpoint_url("strict")
    assert (await post(http, url, b"{}", headers=signed_headers("x", int(clock()), b"{}")))[
        0
    ] == 204
    assert (await post(http, url, b"{}", headers=signed_headers("x", int(clock()), b"[]")))[
        0
    ] == 401


async def test_duplicate_delivery_counts(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.set_endpoint("dup", [Behaviour.with_status(503), Behaviour.ok()], secret=SECRET)
    url = fake.endpoint_url("dup")
    for msg_id in ("a", "a", "b", "c", "c", "c"):
        await post(http, url, b"{}", headers=signed_headers(msg_id, int(clock()), b"{}"))
    await post(http, url, b"{}")  # no webhook-id at all
    stats = fake.endpoint_stats("dup")
    assert (stats.requests, stats.distinct_ids, stats.duplicate_deliveries) == (7, 3, 3)
    assert (stats.valid_signatures, stats.invalid_signatures) == (6, 1)

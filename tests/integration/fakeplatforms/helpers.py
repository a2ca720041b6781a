"""Independent reimplementations of the platform algorithms (never the fake's own code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

import aiohttp

WECOM_ERRMSG = re.compile(
    r"^(?P<text>.+), hint: \[[^\]]+\], from ip: (?P<ip>[0-9.]+), "
    r"more info at https://open\.work\.weixin\.qq\.com/devtool/query\?e=(?P<code>-?\d+)$"
)


def feishu_sign(secret: str, timestamp: int | str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int | str) -> str:
    msg = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()


def standard_webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def post_json(
    http: aiohttp.ClientSession, url: Any, payload: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=payload) as response:
        return response.status, await response.json(content_type=None)


async def post_raw(
    http: aiohttp.ClientSession, url: Any, body: bytes
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def assert_wecom_error(payload: dict[str, Any], code: int, text: str) -> None:
    """errcode matches and errmsg has the documented `…, hint: […], from ip: …` shape."""
    assert payload["errcode"] == code
    match = WECOM_ERRMSG.match(payload["errmsg"])
    assert match is not None, payload["errmsg"]
    assert match["text"].startswith(text)
    assert match["ip"] == "127.0.0.1"
    assert int(match["code"]) == code

"""Signatures recomputed here from the platforms' published algorithms, independently of the
code under test: Feishu in the body, DingTalk in the query, Standard Webhooks in headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, quote, urlsplit

from herald.channels.registry import get_sender
from tests.unit.channels.support import NOW, RAW_CONFIGS, SECRETS, config, view


def b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def test_feishu_signs_in_the_body_with_seconds() -> None:
    request = get_sender("feishu").render(view("canary_started"), config("feishu"), now=NOW + 0.9)
    body = json.loads(request.body)
    timestamp = str(int(NOW))
    # Feishu: the string-to-sign is the HMAC *key*, the message is empty.
    expected = b64_hmac(f"{timestamp}\n{SECRETS['feishu']}".encode(), b"")
    assert body["timestamp"] == timestamp and body["sign"] == expected
    assert request.url == RAW_CONFIGS["feishu"]["webhook_url"]


def test_feishu_published_vector() -> None:
    cfg = config("feishu", sign_secret="demo")
    request = get_sender("feishu").render(view("canary_started"), cfg, now=1599360473)
    body = json.loads(request.body)
    assert body["timestamp"] == "1599360473"
    assert body["sign"] == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="


def test_feishu_without_secret_sends_no_signature() -> None:
    cfg = config("feishu", sign_secret=None)
    body = json.loads(get_sender("feishu").render(view("canary_started"), cfg, now=NOW).body)
    assert "sign" not in body and "timestamp" not in body


def test_dingtalk_signs_in_the_query_encoded_once() -> None:
    request = get_sender("dingtalk").render(view("canary_started"), config("dingtalk"), now=NOW)
    secret = SECRETS["dingtalk"]
    timestamp = str(int(NOW * 1000))
    expected = b64_hmac(secret.encode(), f"{timestamp}\n{secret}".encode())
    query = parse_qs(urlsplit(request.url).query)  # one standard decode, as DingTalk does
    assert query["timestamp"] == [timestamp]
    assert query["sign"] == [expected]
    assert query["access_token"] == ["0123456789abcdef0123456789abcdef"]
    assert f"sign={quote(expected, safe='')}" in request.url
    assert request.url.startswith(RAW_CONFIGS["dingtalk"]["webhook_url"] + "&timestamp=")
    assert "sign=****" in request.redacted_url and expected not in request.redacted_url


def test_dingtalk_published_vector() -> None:
    cfg = config("dingtalk", sign_secret="SECtestsecret")
    request = get_sender("dingtalk").render(view("canary_started"), cfg, now=1_700_000_000)
    assert request.url.endswith(
        "&timestamp=1700000000000&sign=7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D"
    )


def test_dingtalk_without_secret_keeps_the_url() -> None:
    cfg = config("dingtalk", sign_secret=None)
    request = get_sender("dingtalk").render(view("canary_started"), cfg, now=NOW)
    assert request.url == RAW_CONFIGS["dingtalk"]["webhook_url"]


def test_custom_standard_webhooks_signature() -> None:
    event = view("full_completed")
    request = get_sender("custom").render(event, config("custom"), now=NOW + 0.5)
    headers = request.headers
    timestamp = str(int(NOW))
    key = base64.b64decode(SECRETS["custom"].removeprefix("whsec_"))
    signed = f"{event.delivery_id}.{timestamp}.".encode() + request.body
    assert headers["webhook-id"] == event.delivery_id
    assert headers["webhook-timestamp"] == timestamp
    assert headers["webhook-signature"] == "v1," + b64_hmac(key, signed)


def test_custom_without_secret_still_identifies_the_delivery() -> None:
    cfg = config("custom", signing_secret=None)
    request = get_sender("custom").render(view("full_completed"), cfg, now=NOW)
    assert request.headers["webhook-id"] == "dlv-full_completed"
    assert request.headers["webhook-timestamp"] == str(int(NOW))
    assert "webhook-signature" not in request.headers

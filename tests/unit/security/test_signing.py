"""Platform signature vectors from platforms.md §1.3 (Feishu) and §2.3 (DingTalk)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from herald.security.signing import (
    decode_webhook_secret,
    dingtalk_sign,
    dingtalk_signed_url,
    feishu_sign,
    new_webhook_secret,
    standard_webhook_headers,
    standard_webhook_signature,
)

FEISHU_VECTORS = [
    ("xxx", 1661860880, "QnWVTSBe6FmQDE0bG6X0mURbI+DnvVyu1h+j5dHOjrU="),
    ("demo", 1599360473, "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="),
    ("this is secret", 1577836800, "mrvWG34HKV6PqBObvxHSEHK+ExNfDb38Dqx7z7qYW68="),
    ("SECtestsecret", 1700000000, "qctwDqaazOo8xxU2d5mAVhFAk6TEeaDHQUh0YMWFIL8="),
]

DINGTALK_VECTORS = [
    (
        "SECb90923e19e58b466481e9e7b7a5b4f108a4531abde590ad3967fb29f0eae5c68",
        1582163555000,
        "BQKsG+QOCl+bYJOLc6pxDHxjVquzlZPWgvRzeN2J5zY=",
        "BQKsG%2BQOCl%2BbYJOLc6pxDHxjVquzlZPWgvRzeN2J5zY%3D",
    ),
    (
        "this is secret",
        1577836800000,
        "fFV9t5lBS7KH4+5B0JjR99ab+AJkXFauQXycgTkS/tc=",
        "fFV9t5lBS7KH4%2B5B0JjR99ab%2BAJkXFauQXycgTkS%2Ftc%3D",
    ),
    (
        "SECtestsecret",
        1700000000000,
        "7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s=",
        "7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D",
    ),
]

DINGTALK_URL = "https://oapi.dingtalk.com/robot/send?access_token=AbC%2Fd_e-0123"


@pytest.mark.parametrize(("secret", "timestamp", "expected"), FEISHU_VECTORS)
def test_feishu_sign_matches_vectors(secret: str, timestamp: int, expected: str) -> None:
    assert feishu_sign(secret, timestamp) == expected


def test_feishu_sign_is_not_the_dingtalk_style_hmac() -> None:
    dingtalk_style = "dIUMcehSFkPlWOGqwoP5EFcartyN67QSY9wbVW+hTbE="
    assert feishu_sign("xxx", 1661860880) != dingtalk_style


@pytest.mark.parametrize(("secret", "timestamp", "raw", "encoded"), DINGTALK_VECTORS)
def test_dingtalk_sign_matches_vectors(secret: str, timestamp: int, raw: str, encoded: str) -> None:
    assert dingtalk_sign(secret, timestamp) == raw


@pytest.mark.parametrize(("secret", "timestamp", "raw", "encoded"), DINGTALK_VECTORS)
def test_dingtalk_signed_url_encodes_sign_exactly_once(
    secret: str, timestamp: int, raw: str, encoded: str
) -> None:
    url = dingtalk_signed_url(DINGTALK_URL, secret, timestamp)
    assert url == f"{DINGTALK_URL}&timestamp={timestamp}&sign={encoded}"
    # A receiver decodes the query once and must get the raw signature back.
    assert parse_qs(urlsplit(url).query)["sign"] == [raw]


def test_dingtalk_signed_url_is_not_double_encoded() -> None:
    url = dingtalk_signed_url(DINGTALK_URL, "SECtestsecret", 1700000000000)
    assert "7LVwF0dAF3%252F%252BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%253D" not in url
    assert "%25" not in url.removeprefix(DINGTALK_URL)


def test_dingtalk_signed_url_keeps_existing_query_byte_for_byte() -> None:
    url = dingtalk_signed_url(DINGTALK_URL, "SECtestsecret", 1700000000000)
    assert url.startswith(DINGTALK_URL + "&")


@pytest.mark.parametrize(
    ("base", "expected_prefix"),
    [
        ("https://h/robot/send", "https://h/robot/send?timestamp="),
        ("https://h/robot/send?", "https://h/robot/send?timestamp="),
        ("https://h/robot/send?a=1&", "https://h/robot/send?a=1&timestamp="),
    ],
)
def test_dingtalk_signed_url_separators(base: str, expected_prefix: str) -> None:
    assert dingtalk_signed_url(base, "s", 1).startswith(expected_prefix)


def test_dingtalk_signed_url_keeps_fragment_last() -> None:
    url = dingtalk_signed_url("https://h/send?access_token=t#frag", "s", 1)
    assert url.startswith("https://h/send?access_token=t&timestamp=1&sign=")
    assert url.endswith("#frag")


@pytest.mark.parametrize("param", ["timestamp", "sign"])
def test_dingtalk_signed_url_refuses_already_signed_url(param: str) -> None:
    with pytest.raises(ValueError, match="already contains"):
        dingtalk_signed_url(f"{DINGTALK_URL}&{param}=1", "s", 1)


def test_standard_webhook_signature_vector_a() -> None:
    signature = standard_webhook_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_webhook_signature_vector_b() -> None:
    signature = standard_webhook_signature(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        b'{"email":"test@example.com","username":"test_user"}',
    )
    assert signature == "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="


@pytest.mark.parametrize("secret", ["", "whsec_"])
def test_standard_webhook_signature_rejects_empty_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        standard_webhook_signature(secret, "msg_1", 1, b"{}")


def test_standard_webhook_signature_rejects_non_base64_secret() -> None:
    with pytest.raises(ValueError, match="base64"):
        standard_webhook_signature("whsec_not*base64!", "msg_1", 1, b"{}")


def test_standard_webhook_signature_rejects_dot_in_message_id() -> None:
    with pytest.raises(ValueError, match=r"'\.'"):
        standard_webhook_signature(new_webhook_secret(), "msg.1", 1, b"{}")


def test_secret_without_prefix_or_padding_decodes_the_same() -> None:
    padded = "whsec_" + base64.b64encode(b"\x01" * 25).decode()
    assert padded.endswith("==")
    assert decode_webhook_secret(padded.rstrip("=").removeprefix("whsec_")) == b"\x01" * 25


def test_headers_with_secret_include_signature() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = standard_webhook_headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_headers_without_secret_have_no_signature() -> None:
    headers = standard_webhook_headers(None, "msg_1", 1614265330, b"{}")
    assert headers == {"webhook-id": "msg_1", "webhook-timestamp": "1614265330"}


def test_new_webhook_secret_is_32_random_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert first.startswith("whsec_")
    assert len(decode_webhook_secret(first)) == 32
    assert first != second

"""Standard Webhooks verification (delivery.md §3 vectors and negative cases)."""

from __future__ import annotations

import ast
import base64
import time
from pathlib import Path

import pytest

import herald.security.webhook_verify
from herald.security.signing import new_webhook_secret, standard_webhook_headers
from herald.security.webhook_verify import WebhookVerificationError, verify_webhook

SECRET_A = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ID_A = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS_A = 1614265330
BODY_A = b'{"test": 2432232314}'
SIG_A = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET_B = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
ID_B = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"
TS_B = 1649367553
BODY_B = b'{"email":"test@example.com","username":"test_user"}'
SIG_B = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="


def headers_a(signature: str = SIG_A, timestamp: int = TS_A) -> dict[str, str]:
    return {
        "webhook-id": ID_A,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_vector_a_verifies() -> None:
    verify_webhook(SECRET_A, headers_a(), BODY_A, now=TS_A)


def test_vector_b_verifies() -> None:
    headers = {"webhook-id": ID_B, "webhook-timestamp": str(TS_B), "webhook-signature": SIG_B}
    verify_webhook(SECRET_B, headers, BODY_B, now=TS_B)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in headers_a().items()}
    verify_webhook(SECRET_A, headers, BODY_A, now=TS_A)


@pytest.mark.parametrize(
    "signature",
    [
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd",
        "v1,",
        "v1",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSy",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ],
)
def test_wrong_or_truncated_signature_fails(signature: str) -> None:
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify_webhook(SECRET_A, headers_a(signature), BODY_A, now=TS_A)


def test_multi_signature_header_with_one_valid_entry_passes() -> None:
    header = f"v1,Ceo5qEr07ixe2NLpwHk3lLVgIG9HVYT7B5TB4w1bsZY= v2,bm90IGEgdmFsaWQgc2ln {SIG_A}"
    verify_webhook(SECRET_A, headers_a(header), BODY_A, now=TS_A)


def test_tampered_body_fails() -> None:
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify_webhook(SECRET_A, headers_a(), BODY_A + b" ", now=TS_A)


@pytest.mark.parametrize("secret", ["", "whsec_"])
def test_empty_secret_raises(secret: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        verify_webhook(secret, headers_a(), BODY_A, now=TS_A)


@pytest.mark.parametrize(
    ("offset", "message"), [(-301, "too new"), (301, "too old")], ids=["future", "past"]
)
def test_timestamp_outside_tolerance_fails(offset: int, message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify_webhook(SECRET_A, headers_a(), BODY_A, now=TS_A + offset)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_tolerance_edge_passes(offset: int) -> None:
    verify_webhook(SECRET_A, headers_a(), BODY_A, now=TS_A + offset)


@pytest.mark.parametrize(("key_length", "padding"), [(24, 0), (23, 1), (22, 2)])
def test_unpadded_secret_still_verifies(key_length: int, padding: int) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * key_length).decode()
    assert secret.count("=") == padding
    headers = standard_webhook_headers(secret, "msg_1", TS_A, BODY_A)
    verify_webhook(secret.rstrip("="), headers, BODY_A, now=TS_A)


def test_secret_prefix_is_optional() -> None:
    verify_webhook(SECRET_A.removeprefix("whsec_"), headers_a(), BODY_A, now=TS_A)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_fails(name: str) -> None:
    headers = headers_a()
    del headers[name]
    with pytest.raises(WebhookVerificationError, match=f"missing {name}"):
        verify_webhook(SECRET_A, headers, BODY_A, now=TS_A)


@pytest.mark.parametrize("timestamp", ["abc", "-1614265330", "1614265330.5", ""])
def test_malformed_timestamp_fails(timestamp: str) -> None:
    headers = {**headers_a(), "webhook-timestamp": timestamp}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET_A, headers, BODY_A, now=TS_A)


def test_round_trip_with_fresh_secret_and_default_clock() -> None:
    secret = new_webhook_secret()
    now = int(time.time())
    headers = standard_webhook_headers(secret, "msg_round_trip", now, b'{"ok":true}')
    verify_webhook(secret, headers, b'{"ok":true}')


def test_error_carries_reason() -> None:
    with pytest.raises(WebhookVerificationError) as info:
        verify_webhook(SECRET_A, headers_a("v1,"), BODY_A, now=TS_A)
    assert info.value.reason == "no matching signature"


def test_verify_module_imports_only_the_standard_library() -> None:
    source = Path(herald.security.webhook_verify.__file__).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {
        "__future__",
        "base64",
        "binascii",
        "hashlib",
        "hmac",
        "time",
        "collections",
    }

"""Secrets at rest: encryption, rotation, key files, fingerprints and masking."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from herald.security.encryption import (
    InsecureKeyFileError,
    KeyRing,
    SecretDecryptError,
    fingerprint,
    generate_key,
    load_or_create_key_file,
)
from herald.security.redaction import mask_secret, mask_url_credentials, redact_text

PASSPHRASE = "correct horse battery staple, 32+ chars"
OLD_KEY = generate_key()
NEW_KEY = generate_key()


def test_text_and_json_round_trip() -> None:
    ring = KeyRing.from_settings(NEW_KEY)
    assert ring.decrypt_text(ring.encrypt_text("飞书 token ✓")) == "飞书 token ✓"
    value = {"url": "https://h/x?access_token=t", "n": [1, 2.5, None, True]}
    assert ring.decrypt_json(ring.encrypt_json(value)) == value


def test_encryption_is_randomised() -> None:
    ring = KeyRing.from_settings(NEW_KEY)
    assert ring.encrypt_text("same") != ring.encrypt_text("same")


def test_passphrase_key_is_stretched_deterministically() -> None:
    token = KeyRing.from_settings(PASSPHRASE).encrypt_text("s")
    assert KeyRing.from_settings(f"  {PASSPHRASE}\n").decrypt_text(token) == "s"


def test_fernet_key_is_used_as_is() -> None:
    token = Fernet(NEW_KEY.encode()).encrypt(b"direct").decode()
    assert KeyRing.from_settings(NEW_KEY).decrypt_text(token) == "direct"


def test_short_key_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match=r"too short .*at least 32 characters"):
        KeyRing.from_settings("x" * 31)


def test_wrong_key_raises_decrypt_error() -> None:
    token = KeyRing.from_settings(OLD_KEY).encrypt_text("secret")
    with pytest.raises(SecretDecryptError, match="not configured"):
        KeyRing.from_settings(NEW_KEY).decrypt_text(token)


@pytest.mark.parametrize("token", ["", "garbage", "gAAAAA", "ключ"])
def test_corrupted_token_raises_decrypt_error(token: str) -> None:
    with pytest.raises(SecretDecryptError):
        KeyRing.from_settings(NEW_KEY).decrypt_text(token)


def test_tampered_token_raises_decrypt_error() -> None:
    ring = KeyRing.from_settings(NEW_KEY)
    token = ring.encrypt_text("secret")
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(SecretDecryptError):
        ring.decrypt_text(tampered)


def test_decrypt_json_refuses_non_json_plaintext() -> None:
    ring = KeyRing.from_settings(NEW_KEY)
    with pytest.raises(SecretDecryptError, match="not JSON"):
        ring.decrypt_json(ring.encrypt_text("{not json"))


def test_rotation_lifecycle() -> None:
    old_token = KeyRing.from_settings(OLD_KEY).encrypt_json({"secret": "s"})
    during = KeyRing.from_settings(NEW_KEY, old=[OLD_KEY])
    assert during.decrypt_json(old_token) == {"secret": "s"}
    assert during.needs_rotation(old_token)

    rotated = during.rotate(old_token)
    assert not during.needs_rotation(rotated)
    assert not during.needs_rotation(during.encrypt_text("fresh"))

    after = KeyRing.from_settings(NEW_KEY)
    assert after.decrypt_json(rotated) == {"secret": "s"}
    with pytest.raises(SecretDecryptError):
        after.decrypt_json(old_token)


def test_single_string_old_key_is_one_key() -> None:
    old_token = KeyRing.from_settings(OLD_KEY).encrypt_text("s")
    assert KeyRing.from_settings(NEW_KEY, old=OLD_KEY).decrypt_text(old_token) == "s"


def test_unknown_token_cannot_be_rotated_or_classified() -> None:
    ring = KeyRing.from_settings(NEW_KEY)
    foreign = KeyRing.from_settings(OLD_KEY).encrypt_text("s")
    with pytest.raises(SecretDecryptError):
        ring.rotate(foreign)
    with pytest.raises(SecretDecryptError):
        ring.needs_rotation(foreign)


def test_key_file_is_created_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    previous = os.umask(0)
    try:
        key, created = load_or_create_key_file(path)
    finally:
        os.umask(previous)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert load_or_create_key_file(path) == (key, False)
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]
    KeyRing.from_settings(key)


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text(generate_key())
    path.chmod(0o644)
    with pytest.raises(InsecureKeyFileError, match="chmod 600"):
        load_or_create_key_file(path)


def test_key_file_with_unusable_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("short")
    path.chmod(0o600)
    with pytest.raises(ValueError, match="too short"):
        load_or_create_key_file(path)


def test_fingerprint_is_keyed_stable_and_truncated() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    first = fingerprint(url, b"k1")
    assert first == fingerprint(url, b"k1")
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert first != fingerprint(url, b"k2")
    assert first != fingerprint(url + "d", b"k1")
    with pytest.raises(ValueError, match="empty"):
        fingerprint(url, b"")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("", "****"),
        ("short", "****"),
        ("elevenchars", "****"),
        ("twelve_chars", "****hars"),
        ("abcdef0123456789abcdef3f9a", "****3f9a"),
    ],
)
def test_mask_secret(value: str, masked: str) -> None:
    assert mask_secret(value) == masked


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789abcdef3f9a",
            "https://oapi.dingtalk.com/robot/send?access_token=****3f9a",
        ),
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5aaa",
        ),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/0b5c1d2e-aaaa-bbbb-cccc-1234567890ab",
            "https://open.feishu.cn/open-apis/bot/v2/hook/****90ab",
        ),
        (
            "https://open.larksuite.com/open-apis/bot/v2/hook/0b5c1d2e-aaaa-bbbb-cccc-1234567890ab/",
            "https://open.larksuite.com/open-apis/bot/v2/hook/****90ab/",
        ),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/T000/B000/****XXXX",
        ),
        (
            "https://discord.com/api/webhooks/123456/abcdefghijklmnopqrstuvwxyz",
            "https://discord.com/api/webhooks/123456/****wxyz",
        ),
        (
            "https://user:pa55word-long-enough@example.com/hook?x=1",
            "https://user:****ough@example.com/hook?x=1",
        ),
        (
            "https://h/send?access_token=t0k&timestamp=1&sign=abcdefghijkl%2Bmn%3D&page=2",
            "https://h/send?access_token=****&timestamp=1&sign=****%2Bmn%3D&page=2",
        ),
        ("https://example.com/hook?page=2#frag", "https://example.com/hook?page=2#frag"),
        ("http://[bad", "****"),
    ],
)
def test_mask_url_credentials(url: str, masked: str) -> None:
    assert mask_url_credentials(url) == masked


def test_masked_url_never_contains_the_secret() -> None:
    secret = "abcdef0123456789abcdef3f9a"
    for url in (
        f"https://h/x?api_key={secret}",
        f"https://h/x?client_secret={secret}",
        f"https://h/x?Signature={secret}",
        f"https://h/x?password={secret}",
        f"https://u:{secret}@h/x",
    ):
        assert secret not in mask_url_credentials(url)


def test_redact_text_replaces_plain_url_and_json_forms() -> None:
    secret = 'tok/en+va"lue='
    text = " | ".join(
        [
            f"plain {secret}",
            "url https://h/?sign=tok%2Fen%2Bva%22lue%3D",
            "lower tok%2fen%2bva%22lue%3d",
            "plus tok%2Fen%2Bva%22lue%3D",
            f"json {json.dumps({'s': secret})}",
        ]
    )
    redacted = redact_text(text, [secret, ""])
    assert "tok" not in redacted
    assert redacted.count("****") == 5


def test_redact_text_without_secrets_is_identity() -> None:
    assert redact_text("nothing to hide", []) == "nothing to hide"
    assert redact_text("nothing to hide", [""]) == "nothing to hide"

"""What counts as a secret for redaction: credentials, not ordinary words in a URL."""

from __future__ import annotations

from herald.channels.channel_config import parse_channel_config
from herald.channels.credentials import secret_values


def test_a_custom_url_without_credentials_is_not_a_secret() -> None:
    config = parse_channel_config("custom", {"url": "http://127.0.0.1:9/hook/fail?debug=1"})
    assert secret_values(config) == []


def test_feishu_tokens_and_long_query_credentials_are() -> None:
    feishu = parse_channel_config(
        "feishu", {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f"}
    )
    assert "0a1b2c3d-4e5f" in secret_values(feishu)
    custom = parse_channel_config(
        "custom", {"url": "https://hooks.example.com/x?token=s3cr3t-t0ken&key=ab"}
    )
    values = secret_values(custom)
    assert "s3cr3t-t0ken" in values and "ab" not in values

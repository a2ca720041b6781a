"""Channel settings: validation messages a person can act on, masking, merging, warnings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from herald.channels.channel_config import (
    UnknownChannelType,
    host_warnings,
    load_channel_config,
    parse_channel_config,
)
from herald.channels.config_base import marks
from herald.channels.credentials import destination_fields, masked, merge_masked, secret_values
from herald.channels.custom import CustomConfig
from herald.channels.dingtalk import DingTalkConfig
from herald.channels.registry import SENDERS
from herald.channels.wecom_app import WeChatConfig
from tests.unit.channels.support import CHANNEL_TYPES, RAW_CONFIGS, config

URL = "https://example.com/hook"
DING = RAW_CONFIGS["dingtalk"]["webhook_url"]

# (channel type, raw settings, the field the error names, a piece of its message)
Case = tuple[str, dict[str, Any], str, str]

BAD: list[Case] = [
    ("feishu", {}, "webhook_url", "Field required"),
    ("feishu", {"webhook_url": "not a url"}, "webhook_url", "http(s) URL"),
    (
        "feishu",
        {"webhook_url": "open.feishu.cn/open-apis/bot/v2/hook/x"},
        "webhook_url",
        "http(s) URL",
    ),
    (
        "dingtalk",
        {"webhook_url": "ftp://oapi.dingtalk.com/robot/send"},
        "webhook_url",
        "such as https://oapi.dingtalk.com",
    ),
    ("dingtalk", {"webhook_url": DING, "sign_secret": "nope"}, "sign_secret", "starts with SEC"),
    (
        "dingtalk",
        {"webhook_url": DING + "&timestamp=1&sign=x"},
        "webhook_url",
        "without timestamp/sign",
    ),
    ("dingtalk", {"webhook_url": DING, "at_mobiles": ["call me"]}, "at_mobiles.0", "phone number"),
    (
        "feishu",
        {"webhook_url": URL, "mention_open_ids": ["<at id=all>"]},
        "mention_open_ids.0",
        "user id",
    ),
    (
        "feishu",
        {"webhook_url": URL, "mention_open_ids": ["ou_1"] * 101},
        "mention_open_ids",
        "at most 100",
    ),
    ("feishu", {"webhook_url": URL, "typo_secret": "x"}, "typo_secret", "Extra inputs"),
    ("feishu", {"webhook_url": "https://x.example/" + "a" * 2048}, "webhook_url", "at most 2048"),
    ("feishu", {"webhook_url": URL, "sign_secret": "s" * 513}, "sign_secret", "at most 512"),
    (
        "feishu",
        {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/****abcd"},
        "webhook_url",
        "masked",
    ),
    (
        "wechat",
        {"corp_id": "ww1", "agent_id": "abc", "secret": "s" * 20},
        "agent_id",
        "agent_id must be an integer",
    ),
    (
        "wechat",
        {"corp_id": "ww1", "agent_id": "1000002", "secret": "s" * 20},
        "agent_id",
        "agent_id must be an integer",
    ),
    (
        "wechat",
        {"corp_id": "ww1", "agent_id": 1.5, "secret": "s" * 20},
        "agent_id",
        "agent_id must be an integer",
    ),
    ("wechat", {"corp_id": "ww1", "agent_id": 1000002}, "secret", "Field required"),
    ("wechat", {"corp_id": "c" * 129, "agent_id": 1, "secret": "s"}, "corp_id", "at most 128"),
    (
        "wechat",
        {"corp_id": "ww1", "agent_id": 1, "secret": "s", "to_user": ""},
        "",
        "at least one of to_user",
    ),
    (
        "wechat",
        {"corp_id": "ww1", "agent_id": 1, "secret": "s", "api_base": "https://q.example/?x=1"},
        "api_base",
        "without a query",
    ),
    (
        "wechat",
        {
            "corp_id": "ww1",
            "agent_id": 1,
            "secret": "s",
            "to_party": "|".join(map(str, range(101))),
        },
        "to_party",
        "at most 100",
    ),
    ("wecom_bot", {"webhook_url": "javascript:alert(1)"}, "webhook_url", "http(s) URL"),
    ("custom", {"url": URL, "retry_count": -1}, "retry_count", "greater than or equal to 0"),
    ("custom", {"url": URL, "retry_count": 21}, "retry_count", "less than or equal to 20"),
    ("custom", {"url": URL, "timeout": 0}, "timeout", "greater than or equal to 1"),
    ("custom", {"url": URL, "timeout": 61}, "timeout", "less than or equal to 60"),
    (
        "custom",
        {"url": URL, "retry_interval": 3601},
        "retry_interval",
        "less than or equal to 3600",
    ),
    ("custom", {"url": URL, "method": "GET"}, "method", "'POST' or 'PUT'"),
    ("custom", {"url": URL, "headers": {"X-A": "b\r\nInjected: 1"}}, "headers", "line breaks"),
    (
        "custom",
        {"url": URL, "headers": {"X-A\r\nB": "c"}},
        "headers",
        "not a valid HTTP header name",
    ),
    ("custom", {"url": URL, "headers": {"Host": "evil"}}, "headers", "cannot be set"),
    (
        "custom",
        {"url": URL, "headers": {"Transfer-Encoding": "chunked"}},
        "headers",
        "cannot be set",
    ),
    ("custom", {"url": URL, "headers": {"content-length": "1"}}, "headers", "cannot be set"),
    ("custom", {"url": URL, "headers": {"Proxy-Authorization": "x"}}, "headers", "cannot be set"),
    ("custom", {"url": URL, "headers": {"Webhook-Signature": "x"}}, "headers", "set by Herald"),
    ("custom", {"url": URL, "headers": {"X-A": "1", "x-a": "2"}}, "headers", "given twice"),
    (
        "custom",
        {"url": URL, "headers": {f"X-{i}": "v" for i in range(51)}},
        "headers",
        "at most 50",
    ),
    ("custom", {"url": URL, "headers": {"X-A": "v" * 4097}}, "headers", "longer than 4096"),
    ("custom", {"url": URL, "signing_secret": "not-a-whsec"}, "signing_secret", "whsec_"),
    (
        "custom",
        {"url": URL, "signing_secret": "whsec_c2hvcnQ="},
        "signing_secret",
        "16-64 random bytes",
    ),
    ("custom", {"url": URL, "surprise": 1}, "surprise", "Extra inputs"),
]

# Issue 9: strict types, a retry interval of at least 1 s, one Authorization, secret_headers
# naming configured headers, and hosts written plainly.
STRICT: list[Case] = [
    ("custom", {"url": URL, "retry_count": "3"}, "retry_count", "valid integer"),
    ("custom", {"url": URL, "retry_count": True}, "retry_count", "valid integer"),
    ("custom", {"url": URL, "retry_count": 3.5}, "retry_count", "valid integer"),
    ("custom", {"url": URL, "timeout": "10"}, "timeout", "valid integer"),
    ("custom", {"url": URL, "retry_interval": False}, "retry_interval", "valid integer"),
    ("custom", {"url": URL, "secret_url": "yes"}, "secret_url", "valid boolean"),
    ("feishu", {"webhook_url": URL, "mention_all": 1}, "mention_all", "valid boolean"),
    ("dingtalk", {"webhook_url": DING, "at_all": "true"}, "at_all", "valid boolean"),
    ("dingtalk", {"webhook_url": DING, "at_mobiles": "13800000000"}, "at_mobiles", "valid list"),
    ("wechat", {"corp_id": 12345, "agent_id": 1, "secret": "s"}, "corp_id", "valid string"),
    ("wechat", {"corp_id": "ww1", "agent_id": True, "secret": "s"}, "agent_id", "integer"),
    ("custom", {"url": URL, "retry_interval": 0}, "retry_interval", "at least 1 second"),
    (
        "custom",
        {"url": "https://ci:pw@ci.example.com/hook", "headers": {"authorization": "Bearer x"}},
        "headers",
        "keep one of the two",
    ),
    (
        "custom",
        {"url": URL, "headers": {"X-Team": "payments"}, "secret_headers": ["X-Tenant"]},
        "secret_headers",
        "not one of the headers",
    ),
    ("custom", {"url": URL, "secret_headers": ["bad name"]}, "secret_headers", "valid HTTP header"),
    ("custom", {"url": "http://127%2E0%2E0%2E1/hook"}, "url", "percent-encoded"),
    ("custom", {"url": "http://%31%32%37.0.0.1/hook"}, "url", "percent-encoded"),
    ("custom", {"url": "http://0x7f000001/hook"}, "url", "write 127.0.0.1"),
    ("custom", {"url": "http://2130706433/hook"}, "url", "write 127.0.0.1"),
    ("custom", {"url": "http://0177.0.0.1/hook"}, "url", "write 127.0.0.1"),
    ("custom", {"url": "http://127.1/hook"}, "url", "write 127.0.0.1"),
    ("custom", {"url": "http://ci.example.com./hook"}, "url", "trailing dot"),
    ("custom", {"url": "http://１２７.０.０.１/hook"}, "url", "write that"),
    ("custom", {"url": "http://ｌｏｃａｌｈｏｓｔ/hook"}, "url", "'localhost'; write that"),
    ("custom", {"url": "http://ci。example。com/hook"}, "url", "'ci.example.com'; write that"),
    ("custom", {"url": "http://ci.example.123/hook"}, "url", "ends in a number"),
    ("custom", {"url": "http://ci..example.com/hook"}, "url", "not a valid host name"),
    ("custom", {"url": "http://[::1%25eth0]/hook"}, "url", "percent-encoded"),
    ("feishu", {"webhook_url": "https://open%2Efeishu.cn/x"}, "webhook_url", "percent-encoded"),
    (
        "wechat",
        {"corp_id": "ww1", "agent_id": 1, "secret": "s", "api_base": "http://0x7f.1"},
        "api_base",
        "write 127.0.0.1",
    ),
]


@pytest.mark.parametrize(("channel_type", "raw", "field", "needle"), BAD + STRICT)
def test_invalid_settings_are_rejected_naming_the_field(
    channel_type: str, raw: dict[str, Any], field: str, needle: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_channel_config(channel_type, raw)
    errors = caught.value.errors(include_url=False)
    assert any(".".join(map(str, e["loc"])) == field and needle in e["msg"] for e in errors), errors


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_valid_settings_round_trip_through_storage(channel_type: str) -> None:
    parsed = config(channel_type)
    again = parse_channel_config(channel_type, parsed.model_dump(mode="json"))
    assert again == parsed


def test_defaults_and_lenient_inputs() -> None:
    app = parse_channel_config("wechat", {"corp_id": "ww1", "agent_id": 1000002, "secret": "s"})
    assert isinstance(app, WeChatConfig)
    assert (app.to_user, app.to_party, app.api_base) == (
        "@all",
        None,
        "https://qyapi.weixin.qq.com",
    )
    base = parse_channel_config(
        "wechat",
        {"corp_id": "ww1", "agent_id": 1, "secret": "s", "api_base": "http://127.0.0.1:9/proxy/"},
    )
    assert isinstance(base, WeChatConfig) and base.api_base == "http://127.0.0.1:9/proxy"
    custom = parse_channel_config("custom", {"url": URL, "method": "put", "signing_secret": ""})
    assert isinstance(custom, CustomConfig)
    assert (custom.method, custom.timeout, custom.retry_count, custom.retry_interval) == (
        "PUT",
        10,
        3,
        5,
    )
    assert custom.signing_secret is None and custom.headers == {}
    ding = parse_channel_config("dingtalk", {"webhook_url": DING, "sign_secret": ""})
    assert isinstance(ding, DingTalkConfig) and ding.sign_secret is None


def test_plain_hosts_and_numbers_where_floats_go_are_fine() -> None:
    for url in ("http://127.0.0.1:9/x", "https://[::1]:8443/x", "https://пример.рф/x"):
        parsed = parse_channel_config("custom", {"url": url, "retry_interval": 1})
        assert isinstance(parsed, CustomConfig) and parsed.url == url
    marked = parse_channel_config(
        "custom", {"url": URL, "headers": {"X-Team": "a"}, "secret_headers": ["x-team"]}
    )
    assert isinstance(marked, CustomConfig) and marked.secret_headers == ["x-team"]


def test_stored_settings_saved_under_older_rules_still_load() -> None:
    """Rules that only judge new input do not lock configs saved before them out of the store
    (the egress guard still vets their URLs at every request)."""
    legacy = {
        "url": "http://ci:pw@0x7f000001/hook",
        "headers": {"Authorization": "Bearer x"},
        "retry_interval": 0,
    }
    with pytest.raises(ValidationError):
        parse_channel_config("custom", legacy)
    loaded = load_channel_config("custom", legacy)
    assert isinstance(loaded, CustomConfig) and loaded.retry_interval == 0
    with pytest.raises(ValidationError):  # strict types and bounds still hold
        load_channel_config("custom", {**legacy, "retry_count": "3"})


def test_unknown_type_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownChannelType) as caught:
        parse_channel_config("carrier-pigeon", {})
    assert isinstance(caught.value, KeyError)
    assert "carrier-pigeon" in str(caught.value) and "wecom_bot" in str(caught.value)


# What the marks on the built-in models declare (the per-type tables they replaced).
SECRET_FIELDS = {
    "feishu": ("sign_secret",),
    "dingtalk": ("sign_secret",),
    "wechat": ("secret",),
    "wecom_bot": (),
    "custom": ("signing_secret",),
    "slack": (),
    "discord": (),
    "email": ("password",),
    "teams": (),
    "apprise": (),
}
URL_FIELDS = {  # every HTTP channel's own egress proxy comes first (`HttpChannelConfig`)
    "feishu": ("proxy_url", "webhook_url"),
    "dingtalk": ("proxy_url", "webhook_url"),
    "wechat": ("proxy_url", "api_base"),
    "wecom_bot": ("proxy_url", "webhook_url"),
    "custom": ("proxy_url", "url"),
    "slack": ("proxy_url", "webhook_url"),
    "discord": ("proxy_url", "webhook_url"),
    "email": ("server",),
    "teams": ("proxy_url", "webhook_url"),
    "apprise": ("url",),
}
WHOLE_URL_TYPES = ("feishu", "dingtalk", "wecom_bot", "slack", "discord", "teams")


def test_every_sender_has_a_model_with_its_secret_and_url_fields_marked() -> None:
    assert tuple(SENDERS) == CHANNEL_TYPES
    for channel_type, sender in SENDERS.items():
        model = sender.config_model
        assert model.channel_type == channel_type
        assert marks(model).secrets == SECRET_FIELDS[channel_type]
        assert destination_fields(config(channel_type)) == URL_FIELDS[channel_type]
        whole = {name for name, mark in marks(model).urls if mark.whole}
        expected = {"webhook_url"} if channel_type in WHOLE_URL_TYPES else set()
        assert whole == ({"url"} if channel_type == "apprise" else expected)


def test_masked_hides_every_secret() -> None:
    for channel_type in CHANNEL_TYPES:
        shown = str(masked(config(channel_type)))
        for secret in secret_values(config(channel_type)):
            assert secret not in shown, (channel_type, secret)
    ding = masked(config("dingtalk"))
    assert (
        ding["webhook_url"].endswith("access_token=****cdef") and ding["sign_secret"] == "****5c68"
    )
    custom = masked(config("custom"))
    assert custom["headers"] == {"Authorization": "****", "X-Team": "payments"}
    assert custom["url"].endswith("token=****0123") and custom["signing_secret"].startswith("****")
    assert custom["timeout"] == 10


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_sending_back_the_masked_settings_keeps_the_secrets(channel_type: str) -> None:
    stored = config(channel_type)
    merged = merge_masked(masked(stored), stored)
    assert parse_channel_config(channel_type, merged.settings) == stored


def test_merge_masked_rules() -> None:
    stored = config("dingtalk", at_all=True)
    assert isinstance(stored, DingTalkConfig)
    stars = merge_masked({"webhook_url": "****", "sign_secret": "****"}, stored)
    assert stars.settings == {"webhook_url": DING, "sign_secret": stored.sign_secret}
    assert stars.kept == ("webhook_url", "sign_secret")
    changed = merge_masked({"webhook_url": DING + "x", "sign_secret": "SECnew"}, stored)
    assert changed.settings == {"webhook_url": DING + "x", "sign_secret": "SECnew"}
    assert changed.kept == ()
    removed = merge_masked({"webhook_url": "****"}, stored)
    assert "sign_secret" not in removed.settings  # left out: removed
    custom = config("custom")
    headers = merge_masked({"url": URL, "headers": {"authorization": "****", "X-New": "1"}}, custom)
    assert headers.settings["headers"] == {
        "authorization": "Bearer ci-token-0123456789",
        "X-New": "1",
    }
    assert headers.kept == ("headers.authorization",)


def test_secret_values_include_url_credentials() -> None:
    assert "0123456789abcdef-fs-token" in secret_values(config("feishu"))
    assert "0123456789abcdef0123456789abcdef" in secret_values(config("dingtalk"))
    assert "0123456789abcdef-bot-key" in secret_values(config("wecom_bot"))
    custom = secret_values(config("custom"))
    assert {"endpoint-token-0123", "Bearer ci-token-0123456789", "ci-token-0123456789"} <= set(
        custom
    )
    assert "payments" not in custom  # X-Team is an ordinary header: its value is not a secret


def test_unusual_hosts_are_warnings_not_errors() -> None:
    for channel_type in ("feishu", "dingtalk", "wechat", "wecom_bot", "custom"):
        assert host_warnings(config(channel_type)) == [], channel_type
    lark = parse_channel_config(
        "feishu", {"webhook_url": "https://open.larksuite.com/open-apis/bot/v2/hook/x"}
    )
    assert host_warnings(lark) == []
    proxy = parse_channel_config(
        "dingtalk",
        {"webhook_url": "https://dingtalk-proxy.corp.example/robot/send?access_token=abc"},
    )
    (warning,) = host_warnings(proxy)
    assert "dingtalk-proxy.corp.example" in warning and "oapi.dingtalk.com" in warning
    keyless = parse_channel_config(
        "wecom_bot", {"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}
    )
    assert any("key" in w for w in host_warnings(keyless))
    app = parse_channel_config(
        "wechat",
        {"corp_id": "ww1", "agent_id": 1, "secret": "s", "api_base": "http://127.0.0.1:8000"},
    )
    assert any("127.0.0.1" in w for w in host_warnings(app))

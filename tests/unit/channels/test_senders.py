"""Sender details beyond the golden files: registry, mentions, escaping, tokens, headers."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from herald.channels.base import RateLimit, Sender
from herald.channels.registry import SENDERS, UnknownChannelType, get_sender
from herald.channels.wecom_app import WeComAppSender
from tests.unit.channels.support import ACCESS_TOKEN, NOW, SECRETS, config, view


def test_registry_knows_every_prd_type() -> None:
    assert set(SENDERS) == {
        "feishu",
        "dingtalk",
        "wechat",
        "wecom_bot",
        "custom",
        "slack",
        "discord",
        "email",
        "teams",
        "apprise",
    }
    assert get_sender("wechat").default_rate_limits == (RateLimit(30, 60.0),)
    assert get_sender("feishu").default_rate_limits == (RateLimit(5, 1.0), RateLimit(100, 60.0))
    assert [t for t, s in SENDERS.items() if not s.supports_digest] == ["custom"]
    with pytest.raises(UnknownChannelType, match="valid types are: apprise, custom, dingtalk"):
        get_sender("slack-ish")
    with pytest.raises(KeyError):
        get_sender("")


def test_a_sender_refuses_another_types_settings(sender: Sender, channel_type: str) -> None:
    other = config("custom" if channel_type != "custom" else "feishu")
    with pytest.raises(TypeError, match="expected"):
        sender.render(view("canary_started"), other, now=NOW, access_token=ACCESS_TOKEN)


def test_target_identity_is_the_credential(sender: Sender, channel_type: str) -> None:
    identity = sender.target_identity(config(channel_type))
    assert identity and (channel_type != "wechat" or SECRETS["wechat"] in identity)


def test_feishu_mentions_and_escaping() -> None:
    event = view("task_failed")
    message = replace(event.message, fields=(("项目", "<at id=all></at> x"),))
    cfg = config("feishu", mention_all=True, mention_open_ids=["ou_abc"])
    request = get_sender("feishu").render(replace(event, message=message), cfg, now=NOW)
    content = json.loads(request.body)["card"]["elements"][0]["text"]["content"]
    assert "**项目**: &lt;at id=all&gt;&lt;/at&gt; x" in content
    assert content.endswith("\n<at id=all></at> <at id=ou_abc></at>")


def test_dingtalk_mentions_appear_in_the_text_too() -> None:
    cfg = config("dingtalk", at_mobiles=["13800000000"], at_user_ids=["manager01"], at_all=False)
    body = json.loads(get_sender("dingtalk").render(view("task_failed"), cfg, now=NOW).body)
    assert body["at"] == {
        "atMobiles": ["13800000000"],
        "atUserIds": ["manager01"],
        "isAtAll": False,
    }
    assert body["markdown"]["text"].endswith("@13800000000 @manager01")


def test_a_template_body_replaces_the_generated_one() -> None:
    event = view("canary_started")
    event = replace(event, message=replace(event.message, body_override="**自定义** 模板"))
    for channel_type in ("dingtalk", "wecom_bot"):
        body = json.loads(
            get_sender(channel_type).render(event, config(channel_type), now=NOW).body
        )
        assert body["markdown"].get("text", body["markdown"].get("content")) == "**自定义** 模板"
    card = json.loads(get_sender("feishu").render(event, config("feishu"), now=NOW).body)["card"]
    assert card["elements"][0]["text"]["content"] == "**自定义** 模板"
    assert card["header"]["title"]["content"] == "发布通知：金丝雀发布开始"


def test_wechat_token_flow_pieces() -> None:
    sender = WeComAppSender()
    cfg = config("wechat", to_user="zhangsan|lisi", to_party="2", to_tag=None)
    token = sender.token_request(cfg)
    assert token.method == "GET" and token.body == b""
    query = parse_qs(urlsplit(token.url).query)
    assert query == {"corpid": ["ww0123456789abcdef"], "corpsecret": [SECRETS["wechat"]]}
    assert SECRETS["wechat"] not in token.redacted_url and "corpsecret=****" in token.redacted_url
    assert sender.token_cache_key(cfg) == sender.token_cache_key(config("wechat", agent_id=7))
    with pytest.raises(ValueError, match="access token"):
        sender.render(view("canary_started"), cfg, now=NOW)
    request = sender.render(view("canary_started"), cfg, now=NOW, access_token="t/k+n")
    assert request.url.endswith("/cgi-bin/message/send?access_token=t%2Fk%2Bn")
    assert "t%2Fk%2Bn" not in request.redacted_url
    body = json.loads(request.body)
    assert (body["touser"], body["toparty"], body["agentid"]) == ("zhangsan|lisi", "2", 1000002)
    assert "totag" not in body


def test_custom_method_headers_and_redaction() -> None:
    cfg = config(
        "custom",
        method="PUT",
        timeout=3,
        headers={"user-agent": "ci/2", "X-Key": "k-123456", "X-Tenant": "acme"},
        secret_headers=["x-tenant"],
    )
    request = get_sender("custom").render(view("canary_started"), cfg, now=NOW)
    assert request.method == "PUT" and request.timeout == 3.0
    assert request.headers["user-agent"] == "ci/2" and "User-Agent" not in request.headers
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    # Credentials by name and the headers marked secret are masked; ordinary ones are shown.
    assert request.redacted_headers["X-Key"] == request.redacted_headers["X-Tenant"] == "****"
    assert request.redacted_headers["user-agent"] == "ci/2"
    assert request.redacted_headers["webhook-id"] == "dlv-canary_started"
    assert "endpoint-token-0123" not in request.redacted_url
    with pytest.raises(NotImplementedError):
        get_sender("custom").render_digest([view("canary_started")], cfg, now=NOW)


def test_digest_needs_events() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        get_sender("feishu").render_digest([], config("feishu"), now=NOW)

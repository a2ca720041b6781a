"""Size limits, counted in UTF-8 bytes: every message fits its platform, hosts are elided
first with a count of the rest, and long text is cut only when eliding is not enough."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest

from herald.channels.base import EventView, OutboundRequest
from herald.channels.registry import get_sender
from herald.domain.events import EVENT_TYPES
from herald.domain.text_limits import utf8_len
from tests.unit.channels.support import ACCESS_TOKEN, CHAT_TYPES, NOW, config, view

HOSTS = [f"华东一区-支付集群-应用服务器-{i:04d}.pay.prod.internal" for i in range(600)]
REASON = "灰度批次中多台主机健康检查失败，自动回滚未能完成，" * 56  # 1,400 characters
# channel -> (limit, what the limit measures)
LIMITS = {
    "feishu": 20_000,
    "dingtalk": 20_000,
    "wechat": 2048,
    "wecom_bot": 4096,
    "slack": 40_000,
    "discord": 30_000,
    "email": 512_000,
    "teams": 28_000,
    "apprise": 32_000,
}


def measured(channel_type: str, request: OutboundRequest) -> tuple[int, str]:
    """(bytes the platform counts, the text people read)."""
    if channel_type == "email":
        return len(request.body), mail_text(request.body)
    body = json.loads(request.body)
    if channel_type == "feishu":
        return len(request.body), json.dumps(body["card"], ensure_ascii=False)
    if channel_type == "dingtalk":
        return len(request.body), body["markdown"]["text"]
    if channel_type == "slack":
        return len(request.body), json.dumps(body["blocks"], ensure_ascii=False)
    if channel_type == "apprise":
        return len(request.body), f"{body['title']}\n{body['body']}"
    if channel_type == "teams":
        return len(request.body), json.dumps(body["attachments"], ensure_ascii=False)
    if channel_type == "discord":
        return len(request.body), json.dumps(body["embeds"], ensure_ascii=False)
    content = body["markdown"]["content"]
    return utf8_len(content), content


def mail_text(raw: bytes) -> str:
    """The text and HTML parts of a rendered mail, decoded."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    parts = [part.get_content() for part in mail.iter_parts()]
    return "\n".join(parts)


def huge_view(event_type: str) -> EventView:
    return view(event_type, hosts=HOSTS, failed_hosts=HOSTS[:300], reason=REASON)


def render(channel_type: str, event: EventView) -> OutboundRequest:
    return get_sender(channel_type).render(
        event, config(channel_type), now=NOW, access_token=ACCESS_TOKEN
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("channel_type", CHAT_TYPES)
def test_600_hosts_and_a_long_reason_fit_every_channel(channel_type: str, event_type: str) -> None:
    assert len(REASON) == 1400
    size, text = measured(channel_type, render(channel_type, huge_view(event_type)))
    assert size <= LIMITS[channel_type]
    assert "…另有" in text and "台" in text  # hosts elided with a count of the rest
    assert "华东一区-支付集群-应用服务器-0000" in text  # but the first ones are listed


@pytest.mark.parametrize("channel_type", ["feishu", "dingtalk"])
def test_a_long_reason_is_kept_whole_where_it_fits(channel_type: str) -> None:
    _, text = measured(channel_type, render(channel_type, huge_view("task_failed")))
    assert REASON in text


def test_a_long_reason_is_cut_with_an_ellipsis_where_it_does_not() -> None:
    _, text = measured("wechat", render("wechat", huge_view("task_failed")))
    assert REASON not in text and REASON[:100] in text and "…" in text


def test_elided_count_adds_up() -> None:
    _, text = measured("wecom_bot", render("wecom_bot", huge_view("full_completed")))
    hosts_line = next(line for line in text.splitlines() if line.startswith(">主机:"))
    listed = hosts_line.count(".pay.prod.internal")
    assert f"…另有 {600 - listed} 台" in hosts_line


@pytest.mark.parametrize("channel_type", CHAT_TYPES)
def test_small_messages_list_every_host(channel_type: str) -> None:
    _, text = measured(channel_type, render(channel_type, view("full_completed")))
    assert "另有" not in text and "web-10.pay.prod.internal" in text


@pytest.mark.parametrize("channel_type", CHAT_TYPES)
def test_an_oversized_template_body_is_cut_to_fit(channel_type: str) -> None:
    event = view("task_failed")
    event = replace(event, message=replace(event.message, body_override="模板正文" * 5000))
    size, text = measured(channel_type, render(channel_type, event))
    assert size <= LIMITS[channel_type] and "模板正文" in text


@pytest.mark.parametrize("channel_type", CHAT_TYPES)
def test_a_digest_of_300_events_fits_and_counts_the_rest(channel_type: str) -> None:
    events = [replace(huge_view("task_stopped"), delivery_id=f"d{i}") for i in range(300)]
    kwargs: dict[str, Any] = {"access_token": ACCESS_TOKEN} if channel_type == "wechat" else {}
    request = get_sender(channel_type).render_digest(
        events, config(channel_type), now=NOW, **kwargs
    )
    size, text = measured(channel_type, request)
    assert size <= LIMITS[channel_type]
    assert "300 条发布事件汇总" in text and "…另有" in text and "条" in text

"""The channel-neutral message: titles, colours, fields, locales, digests, size helpers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from herald.channels.base import fit_message
from herald.domain.events import EVENT_TYPES
from herald.domain.messages import (
    EVENT_TITLES,
    Message,
    build_digest_message,
    build_message,
    display_time,
    normalize_locale,
    shorten_text,
    with_missed_note,
)
from herald.domain.text_limits import fit_hosts, largest_fitting, truncate_utf8, utf8_len
from tests.unit.channels.support import TASK_URL, sample, view

TITLES = {
    "canary_started": ("金丝雀发布开始", "blue"),
    "canary_completed": ("金丝雀发布完成", "turquoise"),
    "full_completed": ("全部发布完成", "green"),
    "task_failed": ("发布失败", "red"),
    "task_stopped": ("发布已停止", "orange"),
    "long_running": ("发布耗时过长", "orange"),
    "canary_step": ("金丝雀第 1/3 步（10%，1 台）完成", "turquoise"),
    "rollout_started": ("滚动发布开始", "blue"),
    "rollback_started": ("回滚开始", "orange"),
    "rollback_completed": ("回滚完成", "green"),
}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_titles_and_colours(event_type: str) -> None:
    message = view(event_type).message
    headline, color = TITLES[event_type]
    assert message.headline == headline and message.title == f"发布通知：{headline}"
    assert message.color == color and message.link == TASK_URL
    assert EVENT_TITLES["en"][event_type] and EVENT_TITLES["zh"][event_type]
    specific = event_type in ("canary_step", "rollout_started")  # worded by their payload
    assert specific or EVENT_TITLES["zh"][event_type] == headline


def test_fields_follow_the_prd_order_and_wording() -> None:
    message = view("task_failed").message
    assert message.fields == (
        ("项目", "payments-api"),
        ("版本", "v1.2.3"),
        ("环境", "生产"),
        ("策略", "金丝雀（2 台）"),
        ("状态", "失败"),
        ("进度", "6/10，失败 2"),
        ("耗时", "2m30s"),
        ("原因", "2 host(s) failed, more than the 1 tolerated"),
    )
    assert message.failed_hosts == ("web-07.pay.prod.internal", "web-08.pay.prod.internal")
    assert message.occurred_at == "2026-01-06T20:00:00Z"
    assert message.field("progress") == "6/10，失败 2"


def test_english_and_non_deploy_tasks() -> None:
    payload, context = sample("full_completed")
    payload["task"]["type"] = "rollback"
    payload["task"]["strategy"] = "rolling"
    del payload["deployment"]["canary_count"]
    message = build_message(payload, context, locale="en-US", link=None)
    assert message.title == "Release notification: Rollout completed"
    assert ("Type", "rollback") in message.fields and ("Strategy", "rolling") in message.fields
    assert ("Progress", "10/10, 0 failed") in message.fields and message.link is None


def test_locales() -> None:
    assert [normalize_locale(x) for x in ("en", "EN_gb", "zh", "zh-CN", "", None, "fr")] == [
        "en",
        "en",
        "zh",
        "zh",
        "zh",
        "zh",
        "zh",
    ]
    assert display_time("2026-01-06T20:00:00Z") == "2026-01-06 20:00:00 UTC"
    assert display_time("yesterday") == "yesterday"


def test_digest_lists_one_line_per_event_and_counts_the_others() -> None:
    messages = [view(t).message for t in ("full_completed", "task_failed")]
    digest = build_digest_message(messages, total=5)
    assert digest.title == "发布通知：5 条发布事件汇总" and digest.event_type == "digest"
    assert digest.color == "red" and digest.omitted_lines == 3
    assert digest.lines[1] == "payments-api v1.2.3 · 生产 · 发布失败 · 2026-01-06 20:00:00 UTC"
    english = build_digest_message([view("full_completed", locale="en").message], locale="en")
    assert english.title == "Release notification: 1 release events" and english.color == "green"


def test_shorten_text_cuts_values_not_labels() -> None:
    message = replace(view("task_stopped").message, body_override="正文" * 10)
    short = shorten_text(message, 7)
    assert short.fields[0] == ("项目", "paym…") and short.body_override == "正…"  # "…" is 3 bytes
    assert short.hosts == message.hosts


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"[:0] + "…"),  # "…" is 3 bytes: nothing else fits
        ("abcdef", 5, "ab…"),
        ("发布通知", 12, "发布通知"),
        ("发布通知", 11, "发布…"),
        ("发布通知", 8, "发…"),
        ("发布通知", 5, "…"),
        ("发布通知", 2, ""),
        ("", 0, ""),
    ],
)
def test_truncate_utf8_never_splits_a_character(text: str, limit: int, expected: str) -> None:
    result = truncate_utf8(text, limit)
    assert result == expected and utf8_len(result) <= limit


def test_truncate_utf8_rejects_negative_limits() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        truncate_utf8("x", -1)


def test_largest_fitting_is_a_binary_search() -> None:
    calls: list[int] = []

    def fits(n: int) -> bool:
        calls.append(n)
        return n <= 700

    assert largest_fitting(0, 1000, fits) == 700 and len(calls) <= 12
    assert largest_fitting(0, 10, lambda n: False) is None
    assert largest_fitting(5, 4, lambda n: True) is None


def test_fit_hosts_shows_the_most_hosts_that_fit() -> None:
    hosts = [f"host-{i:03d}" for i in range(600)]

    def render(n: int) -> bytes:
        rest = len(hosts) - n
        return (", ".join(hosts[:n]) + (f" …(+{rest})" if rest else "")).encode()

    fitted = fit_hosts(render, len(hosts), 100)
    assert fitted == render(9) and len(fitted) <= 100 < len(render(10))
    assert fit_hosts(render, 3, 10_000) == render(3)
    with pytest.raises(ValueError, match="without any host"):
        fit_hosts(render, len(hosts), 5)


def test_fit_message_raises_when_nothing_can_fit() -> None:
    message: Message = view("canary_started").message
    with pytest.raises(ValueError, match="exceeds"):
        fit_message(lambda m, n: (m.title * 10).encode(), message, 10)


def test_a_message_after_a_lost_one_tells_the_room_in_its_language() -> None:
    zh = with_missed_note(view("full_completed").message, ["canary_started", "canary_completed"])
    assert zh.fields[-1] == ("注意", "此前的通知未能送达：金丝雀发布开始、金丝雀发布完成")
    en = with_missed_note(view("full_completed", locale="en").message, ["canary_started"])
    assert en.fields[-1] == (
        "Note",
        "earlier notification(s) could not be delivered: Canary started",
    )
    plain = view("full_completed").message
    assert with_missed_note(plain, []) is plain

"""The largest release context a task may carry still fits every chat platform's limit."""

from __future__ import annotations

import pytest

from herald.channels.base import EventView
from herald.domain.messages import build_message
from herald.domain.release_context import (
    MAX_CHANGELOG,
    MAX_LABELS,
    MAX_LINKS,
    MAX_SHORT_TEXT,
    ReleaseContext,
)
from tests.unit.channels.support import TASK_URL, sample
from tests.unit.channels.test_size import HOSTS, LIMITS, REASON, measured, render

URL = "https://ci.example.com/" + "流水线" * 600  # 1,823 characters, near the 2,000 allowed
BIGGEST: ReleaseContext = {
    "operator": "运维" * (MAX_SHORT_TEXT // 2),
    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "ref": "refs/heads/" + "分支" * 90,
    "pipeline_url": URL,
    "links": [{"title": "看板" * 100, "url": URL} for _ in range(MAX_LINKS)],
    "changelog": ("- 修复退款重复提交，优化结算流程\n" * 300)[:MAX_CHANGELOG],
    "labels": {f"标签{i}": "值" * MAX_SHORT_TEXT for i in range(MAX_LABELS)},
}


def biggest_view(event_type: str, locale: str) -> EventView:
    payload, context = sample(event_type, hosts=HOSTS, failed_hosts=HOSTS[:300], reason=REASON)
    payload["context"] = context["release"] = BIGGEST
    message = build_message(payload, context, locale=locale, link=TASK_URL)
    return EventView(f"dlv-{event_type}", payload, context, message)


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("event_type", ["task_failed", "canary_step"])
@pytest.mark.parametrize("channel_type", list(LIMITS))
def test_the_biggest_context_fits_and_the_operator_still_shows(
    channel_type: str, event_type: str, locale: str
) -> None:
    size, text = measured(channel_type, render(channel_type, biggest_view(event_type, locale)))
    assert size <= LIMITS[channel_type]
    assert "运维运维" in text and "9fceb02d0ae5" in text

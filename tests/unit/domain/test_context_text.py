"""How canary steps, start events and the release context read in the default message."""

from __future__ import annotations

from typing import Any

import pytest

from herald.domain.context_text import CHANGELOG_BYTES, context_fields, specific_headline
from herald.domain.text_limits import utf8_len


def step_event(weight: int | None, hosts: int | None) -> dict[str, Any]:
    step = {"index": 2, "total": 3, "weight": weight, "hosts": hosts}
    return {"event_type": "canary_step", "step": step, "task": {"strategy": "canary"}}


@pytest.mark.parametrize(
    ("weight", "hosts", "zh", "en"),
    [
        (50, 5, "金丝雀第 2/3 步（50%，5 台）完成", "Canary step 2 of 3 (50%, 5 hosts) done"),
        (10, 1, "金丝雀第 2/3 步（10%，1 台）完成", "Canary step 2 of 3 (10%, 1 host) done"),
        (50, None, "金丝雀第 2/3 步（50%）完成", "Canary step 2 of 3 (50%) done"),
        (None, 4, "金丝雀第 2/3 步（4 台）完成", "Canary step 2 of 3 (4 hosts) done"),
    ],
)
def test_a_step_says_which_of_how_many_and_its_size(
    weight: int | None, hosts: int | None, zh: str, en: str
) -> None:
    assert specific_headline("zh", step_event(weight, hosts)) == zh
    assert specific_headline("en", step_event(weight, hosts)) == en


def test_a_start_says_its_strategy_and_other_events_keep_their_title() -> None:
    rolling = {"event_type": "rollout_started", "task": {"strategy": "rolling"}}
    blue_green = {"event_type": "rollout_started", "task": {"strategy": "blue_green"}}
    assert specific_headline("zh", rolling) == "滚动发布开始"
    assert specific_headline("en", blue_green) == "Blue-green release started"
    assert specific_headline("zh", blue_green) == "蓝绿发布开始"
    assert specific_headline("zh", {"event_type": "full_completed", "task": {}}) is None


def test_the_context_reads_compactly_in_display_order() -> None:
    fields = context_fields(
        "en",
        {
            "operator": "alice",
            "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "ref": "main",
            "pipeline_url": "https://ci.example.com/p/1",
            "links": [
                {"title": "Grafana", "url": "https://g.example.com/d"},
                {"title": "https://x.example.com", "url": "https://x.example.com"},
            ],
            "changelog": "- one\n\n* two  \n",
            "labels": {"team": "pay", "region": "cn"},
        },
    )
    assert fields == [
        ("Operator", "alice"),
        ("Commit", "9fceb02d0ae5 (main)"),
        ("Pipeline", "https://ci.example.com/p/1"),
        ("Links", "Grafana: https://g.example.com/d · https://x.example.com"),
        ("Labels", "team=pay, region=cn"),
        ("Changes", "one; two"),
    ]
    assert context_fields("zh", {"ref": "v1.0"}) == [("提交", "v1.0")]
    assert context_fields("zh", None) == [] and context_fields("en", {}) == []


def test_a_long_changelog_is_cut_to_its_budget() -> None:
    (label, value), *_ = context_fields("zh", {"changelog": "修复" * 1000})
    assert label == "变更" and value.endswith("…")
    assert utf8_len(value) <= CHANGELOG_BYTES

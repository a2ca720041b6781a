"""Golden files of every rendered request: channel × event, digests, and an English sample.

Run with HERALD_UPDATE_GOLDEN=1 to rewrite them after an intended change, then review the
diff by eye against the PRD §4.4 formats.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from herald.channels.base import OutboundRequest, json_bytes
from herald.channels.registry import get_sender
from herald.domain.events import EVENT_TYPES, PRD_EVENT_TYPES
from tests.unit.channels.support import (
    ACCESS_TOKEN,
    CHANNEL_TYPES,
    CHAT_TYPES,
    NOW,
    all_views,
    config,
    view,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HERALD_UPDATE_GOLDEN") == "1"


def snapshot(request: OutboundRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.redacted_url,
        "headers": dict(request.redacted_headers),
        "timeout": request.timeout,
        "body": json.loads(request.body),
    }


def check_golden(name: str, request: OutboundRequest) -> None:
    path = GOLDEN / name
    actual = snapshot(request)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with HERALD_UPDATE_GOLDEN=1 to create it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected
    # Bodies are compact JSON in golden-file key order, so the golden file pins the bytes.
    assert request.body == json_bytes(expected["body"])


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_rendered_request_matches_the_golden_file(channel_type: str, event_type: str) -> None:
    request = get_sender(channel_type).render(
        view(event_type), config(channel_type), now=NOW, access_token=ACCESS_TOKEN
    )
    check_golden(f"{channel_type}/{event_type}.json", request)


@pytest.mark.parametrize("channel_type", CHAT_TYPES)
def test_digest_matches_the_golden_file(channel_type: str) -> None:
    sender = get_sender(channel_type)
    kwargs: dict[str, Any] = {"access_token": ACCESS_TOKEN} if channel_type == "wechat" else {}
    views = all_views(types=PRD_EVENT_TYPES)  # the digest of the PRD's events, as it always was
    request = sender.render_digest(views, config(channel_type), now=NOW, **kwargs)
    check_golden(f"{channel_type}/digest.json", request)


@pytest.mark.parametrize("channel_type", ["feishu", "dingtalk", "wecom_bot"])
def test_english_message_matches_the_golden_file(channel_type: str) -> None:
    request = get_sender(channel_type).render(
        view("task_failed", locale="en"), config(channel_type), now=NOW
    )
    check_golden(f"{channel_type}/task_failed.en.json", request)


def test_custom_body_is_the_standard_message_byte_for_byte() -> None:
    event = view("canary_started")
    request = get_sender("custom").render(event, config("custom"), now=NOW)
    expected = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert request.body == expected
    assert list(json.loads(request.body)) == list(event.payload)

"""Golden files of every rendered request: channel × event, digests, and an English sample.

Run with HERALD_UPDATE_GOLDEN=1 to rewrite them after an intended change, then review the
diff by eye against the PRD §4.4 formats.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
from email.message import EmailMessage
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
        "body": mail_parts(request.body) if request.method == "SMTP" else json.loads(request.body),
    }


def mail_parts(raw: bytes) -> dict[str, Any]:
    """A mail as its decoded headers and parts (the wire form folds and encodes them)."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return {
        "headers": {name: str(value) for name, value in mail.items()},
        "parts": {part.get_content_type(): part.get_content() for part in mail.iter_parts()},
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
    if request.method != "SMTP":
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


# Channel types added after the first five have every event in English too.
EVERY_EVENT_IN_ENGLISH = ("slack", "discord", "email", "teams", "apprise")
# A mention rule for task_failed, per platform (item 5 of issue 12).
MENTIONS: dict[str, dict[str, Any]] = {
    "dingtalk": {
        "mentions": [
            {"events": ["task_failed"], "mobiles": ["13800000000"], "users": ["manager0831"]}
        ]
    },
    "feishu": {
        "mentions": [{"events": ["task_failed"], "users": ["ou_7d8a6e6df7621556ce0d21922b676706"]}]
    },
    "wecom_bot": {"mentions": [{"events": ["task_failed"], "users": ["zhangsan", "lisi"]}]},
    "slack": {
        "mentions": [{"events": ["task_failed"], "users": ["U024BE7LH"], "groups": ["SAZ94GDB8"]}]
    },
    "discord": {
        "mentions": [
            {"events": ["task_failed"], "users": ["80351110224678912"]},
            {"events": ["task_failed", "task_stopped"], "groups": ["41771983423143936"]},
        ]
    },
}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("channel_type", EVERY_EVENT_IN_ENGLISH)
def test_every_event_in_english_matches_the_golden_file(channel_type: str, event_type: str) -> None:
    request = get_sender(channel_type).render(
        view(event_type, locale="en"), config(channel_type), now=NOW
    )
    check_golden(f"{channel_type}/{event_type}.en.json", request)


@pytest.mark.parametrize("channel_type", sorted(MENTIONS))
def test_a_mention_matches_the_golden_file(channel_type: str) -> None:
    sender = get_sender(channel_type)
    settings = config(channel_type, **MENTIONS[channel_type])
    request = sender.render(view("task_failed"), settings, now=NOW, access_token=ACCESS_TOKEN)
    check_golden(f"{channel_type}/task_failed.mention.json", request)
    # Only the events a rule names mention anyone.
    quiet = sender.render(view("full_completed"), settings, now=NOW, access_token=ACCESS_TOKEN)
    plain = sender.render(view("full_completed"), config(channel_type), now=NOW)
    assert quiet.body == plain.body


def test_wecom_robot_mentions_mobiles_and_all_with_a_text_message() -> None:
    rules = [{"events": ["task_failed"], "mobiles": ["13800001111"], "users": ["wangwu"]}]
    settings = config("wecom_bot", mentions=[*rules, {"events": ["task_failed"], "all": True}])
    request = get_sender("wecom_bot").render(view("task_failed"), settings, now=NOW)
    check_golden("wecom_bot/task_failed.mention_all.json", request)

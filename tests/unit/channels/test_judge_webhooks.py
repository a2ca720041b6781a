"""The answers of the webhook platforms that speak with HTTP statuses (Slack, Discord, Teams),
classified: one row per documented answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.channels.base import Outcome, OutcomeKind
from herald.channels.slack import PERMANENT_HINTS as SLACK_ERRORS
from herald.channels.slack import SlackSender
from tests.unit.channels.support import NOW

D, P, R = OutcomeKind.DELIVERED, OutcomeKind.PERMANENT, OutcomeKind.RETRYABLE


def clock() -> float:
    return NOW


def raw(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def check(outcome: Outcome, kind: OutcomeKind, code: str | None, limited: bool = False) -> None:
    assert (outcome.kind, outcome.code, outcome.rate_limited) == (kind, code, limited), outcome


SLACK: list[tuple[int, dict[str, str], bytes, OutcomeKind, str | None, bool]] = [
    (200, {}, b"ok", D, "ok", False),
    (200, {}, b"", P, None, False),  # an empty 200 is not a delivery
    (400, {}, b"invalid_payload", P, "invalid_payload", False),
    (400, {}, b"no_text", P, "no_text", False),
    (400, {}, b"invalid_blocks", P, "invalid_blocks", False),
    (400, {}, b"too_many_attachments", P, "too_many_attachments", False),
    (400, {}, b"user_not_found", P, "user_not_found", False),
    (403, {}, b"action_prohibited", P, "action_prohibited", False),
    (403, {}, b"invalid_token", P, "invalid_token", False),
    (403, {}, b"posting_to_general_channel_denied", P, "posting_to_general_channel_denied", False),
    (400, {}, b"posting_to_general_channel_denied", P, "posting_to_general_channel_denied", False),
    (404, {}, b"channel_not_found", P, "channel_not_found", False),
    (404, {}, b"no_service", P, "no_service", False),
    (404, {}, b"no_team", P, "no_team", False),
    (404, {}, b"team_disabled", P, "team_disabled", False),
    (410, {}, b"channel_is_archived", P, "channel_is_archived", False),
    (429, {"Retry-After": "3"}, b"rate_limited", R, "http_429", True),
    (500, {}, b"rollup_error", R, "http_500", False),
    (503, {}, b"", R, "http_503", False),
    (400, {}, b"something_new", P, "http_400", False),
]


@pytest.mark.parametrize(("status", "headers", "body", "kind", "code", "limited"), SLACK)
def test_slack(
    status: int,
    headers: dict[str, str],
    body: bytes,
    kind: OutcomeKind,
    code: str | None,
    limited: bool,
) -> None:
    check(SlackSender(clock).judge(status, headers, body), kind, code, limited)


def test_slack_waits_as_told_or_a_second() -> None:
    sender = SlackSender(clock)
    assert sender.judge(429, {"Retry-After": "7"}, b"").retry_after == 7.0
    assert sender.judge(429, {}, b"").retry_after == 1.0


@pytest.mark.parametrize("error", sorted(SLACK_ERRORS))
def test_slack_permanent_errors_say_what_to_do(error: str) -> None:
    outcome = SlackSender(clock).judge(404, {}, error.encode())
    assert outcome.kind is P and SLACK_ERRORS[error] in outcome.message

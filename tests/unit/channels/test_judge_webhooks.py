"""The answers of the webhook platforms that speak with HTTP statuses (Slack, Discord, Teams),
classified: one row per documented answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.channels.apprise_url import AppriseSender
from herald.channels.base import Outcome, OutcomeKind
from herald.channels.discord import DiscordSender, allowed_mentions, with_wait
from herald.channels.mail import EmailSender
from herald.channels.mention_rules import Mentions
from herald.channels.slack import PERMANENT_HINTS as SLACK_ERRORS
from herald.channels.slack import SlackSender
from herald.channels.teams import TeamsSender
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


DISCORD: list[tuple[int, dict[str, str], Any, OutcomeKind, str | None, bool]] = [
    (200, {}, {"id": "1100000000000000001", "type": 0}, D, "200", False),
    (204, {}, b"", D, "204", False),
    (200, {}, b"", P, None, False),
    (400, {}, {"message": "Cannot send an empty message", "code": 50006}, P, "50006", False),
    (400, {}, {"message": "Invalid Form Body", "code": 50035, "errors": {}}, P, "50035", False),
    (
        400,
        {},
        {"message": "The request body contains invalid JSON.", "code": 50109},
        P,
        "50109",
        False,
    ),
    (401, {}, {"message": "Invalid Webhook Token", "code": 50027}, P, "50027", False),
    (403, {}, {"message": "Missing Permissions", "code": 50013}, P, "50013", False),
    (404, {}, {"message": "Unknown Webhook", "code": 10015}, P, "10015", False),
    (
        429,
        {"Retry-After": "2"},
        {"message": "You are being rate limited.", "retry_after": 1.5, "global": False},
        R,
        "http_429",
        True,
    ),
    (502, {}, b"<html>Bad Gateway</html>", R, "http_502", False),
]


@pytest.mark.parametrize(("status", "headers", "body", "kind", "code", "limited"), DISCORD)
def test_discord(
    status: int,
    headers: dict[str, str],
    body: Any,
    kind: OutcomeKind,
    code: str | None,
    limited: bool,
) -> None:
    check(DiscordSender(clock).judge(status, headers, raw(body)), kind, code, limited)


def test_discord_prefers_the_body_wait_and_names_a_global_limit() -> None:
    sender = DiscordSender(clock)
    body = {"message": "You are being rate limited.", "retry_after": 0.75, "global": True}
    outcome = sender.judge(429, {"Retry-After": "1"}, raw(body))
    assert outcome.retry_after == 0.75 and "global" in outcome.message
    # Old API versions sent milliseconds in the body: the header's seconds win then.
    old = sender.judge(429, {"Retry-After": "3"}, raw({"retry_after": 3000, "global": False}))
    assert old.retry_after == 3.0
    assert sender.judge(429, {}, b"").retry_after == 2.0


def test_discord_never_lets_anyone_be_pinged_who_is_not_configured() -> None:
    assert allowed_mentions(Mentions()) == {"parse": [], "users": [], "roles": []}
    chosen = allowed_mentions(Mentions(users=("1",), groups=("2",)))
    assert chosen == {"parse": [], "users": ["1"], "roles": ["2"]}
    assert allowed_mentions(Mentions(all=True))["parse"] == ["everyone"]


def test_discord_waits_for_the_message_and_keeps_the_thread() -> None:
    assert with_wait("https://discord.com/api/webhooks/1/t") == (
        "https://discord.com/api/webhooks/1/t?wait=true"
    )
    assert with_wait("https://discord.com/api/webhooks/1/t?thread_id=9&wait=false") == (
        "https://discord.com/api/webhooks/1/t?thread_id=9&wait=true"
    )


def smtp(code: int, message: str = "", refused: dict[str, Any] | None = None) -> bytes:
    return raw({"code": code, "message": message, "refused": refused or {}})


EMAIL: list[tuple[int, bytes, OutcomeKind, bool]] = [
    (250, smtp(250, "OK queued"), D, False),
    (250, smtp(250, "OK", {"a@example.com": [550, "no such user"]}), OutcomeKind.PARTIAL, False),
    (421, smtp(421, "Service not available, closing channel"), R, False),
    (450, smtp(450, "Mailbox busy"), R, False),
    (451, smtp(451, "4.7.1 Rate limit exceeded, try again later"), R, True),
    (452, smtp(452, "Too many recipients received this hour"), R, True),
    (454, smtp(454, "Temporary authentication failure"), R, False),
    (530, smtp(530, "Must issue a STARTTLS command first"), P, False),
    (535, smtp(535, "5.7.8 Authentication credentials invalid"), P, False),
    (550, smtp(550, "5.1.1 No such user"), P, False),
    (552, smtp(552, "Message size exceeds fixed limit"), P, False),
    (554, smtp(554, "Transaction failed: spam"), P, False),
]


@pytest.mark.parametrize(("status", "body", "kind", "limited"), EMAIL)
def test_email(status: int, body: bytes, kind: OutcomeKind, limited: bool) -> None:
    outcome = EmailSender().judge(status, {}, body)
    check(outcome, kind, str(status), limited)
    if limited:
        assert outcome.retry_after == 60.0


def logic_error(code: str, message: str = "text") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


TEAMS: list[tuple[int, dict[str, str], Any, OutcomeKind, str | None, bool]] = [
    (202, {}, b"", D, "202", False),
    (200, {}, b"", D, "200", False),
    (404, {}, logic_error("WorkflowNotFound"), P, "WorkflowNotFound", False),
    (
        401,
        {},
        logic_error("DirectApiAuthorizationRequired"),
        P,
        "DirectApiAuthorizationRequired",
        False,
    ),
    (
        401,
        {},
        logic_error("DirectApiInvalidAuthorizationSignature"),
        P,
        "DirectApiInvalidAuthorizationSignature",
        False,
    ),
    (409, {}, logic_error("WorkflowTriggerIsNotEnabled"), P, "WorkflowTriggerIsNotEnabled", False),
    (400, {}, logic_error("TriggerInputSchemaMismatch"), P, "TriggerInputSchemaMismatch", False),
    (400, {}, logic_error("InvalidTemplate"), P, "InvalidTemplate", False),
    (
        429,
        {"Retry-After": "5"},
        logic_error("WorkflowRequestsThrottled"),
        R,
        "WorkflowRequestsThrottled",
        True,
    ),
    (500, {}, logic_error("InternalServerError"), R, "http_500", False),
    (403, {}, b"Forbidden", P, "http_403", False),
]


@pytest.mark.parametrize(("status", "headers", "body", "kind", "code", "limited"), TEAMS)
def test_teams(
    status: int,
    headers: dict[str, str],
    body: Any,
    kind: OutcomeKind,
    code: str | None,
    limited: bool,
) -> None:
    outcome = TeamsSender(clock).judge(status, headers, raw(body))
    check(outcome, kind, code, limited)
    if limited:
        assert outcome.retry_after == 5.0


@pytest.mark.parametrize(
    ("body", "kind", "code"),
    [
        ({"success": True}, D, "ok"),
        ({"success": False}, R, "failed"),
        ({"success": False, "loaded": False}, P, "not_loaded"),
        (b"", R, "failed"),
    ],
)
def test_apprise_is_judged_by_its_success_flag_only(
    body: Any, kind: OutcomeKind, code: str
) -> None:
    check(AppriseSender().judge(200, {}, raw(body)), kind, code)

"""Mute windows in the pure domain: durations, spans, states, and a person's decision."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.domain.delivery import DeliveryStatus, HeldDecision, decide_held
from herald.domain.errors import Conflict, InvalidInput
from herald.domain.mutes import MuteScope, MuteState, MuteWindow, parse_duration, window_span

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "minutes"), [("30m", 30), ("2h", 120), ("1d", 1440), ("1h30m", 90), (" 2H ", 120)]
)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == dt.timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "30m2h", "-1h", "1.5h"])
def test_what_is_no_duration_is_refused_with_examples(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"e\.g\. 30m, 2h"):
        parse_duration(text)


def test_a_span_runs_from_now_or_its_start_for_its_duration_or_to_its_end() -> None:
    assert window_span(NOW, None, None, "2h") == (NOW, NOW + 2 * HOUR)
    assert window_span(NOW, NOW + HOUR, None, "1h") == (NOW + HOUR, NOW + 2 * HOUR)
    assert window_span(NOW, None, NOW + 3 * HOUR, None) == (NOW, NOW + 3 * HOUR)


@pytest.mark.parametrize(
    ("start", "end", "duration", "message"),
    [
        (None, None, None, "either ends_at or duration"),
        (None, NOW + HOUR, "1h", "either ends_at or duration"),
        (None, NOW - HOUR, None, "already be over"),
        (NOW + 2 * HOUR, NOW + HOUR, None, "end after it starts"),
        (NOW - 3 * HOUR, NOW - HOUR, None, "already be over"),
        (None, None, "0m", "end after it starts"),
        (None, None, "91d", "at most 90 days"),
    ],
)
def test_spans_that_make_no_sense_are_refused(
    start: dt.datetime | None, end: dt.datetime | None, duration: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        window_span(NOW, start, end, duration)


def test_a_window_is_scheduled_then_active_then_ended_by_time_alone() -> None:
    window = MuteWindow(
        "m", MuteScope.CONFIG, "c", "p", NOW, NOW + HOUR, "why", "alice", NOW - HOUR
    )
    assert window.state(NOW - dt.timedelta(seconds=1)) is MuteState.SCHEDULED
    assert window.state(NOW) is MuteState.ACTIVE
    assert window.state(NOW + HOUR) is MuteState.ENDED


def test_only_a_muted_delivery_is_released_or_dropped() -> None:
    assert decide_held("d", DeliveryStatus.MUTED, HeldDecision.RELEASE) is DeliveryStatus.PENDING
    assert decide_held("d", DeliveryStatus.MUTED, HeldDecision.DROP) is DeliveryStatus.DROPPED
    for status in set(DeliveryStatus) - {DeliveryStatus.MUTED}:
        with pytest.raises(Conflict, match=f"is {status}, not muted"):
            decide_held("d", status, HeldDecision.RELEASE)

"""Mute windows: a time span during which the notifications of one scope (a project or one
callback config; a destination once destinations exist) are held instead of sent.

A held notification is never lost: it waits, as a `muted` delivery, for a person to release
(send) or drop it, also after the window has ended (`domain.delivery.decide_held`). A window
is active from `starts_at` (inclusive) to `ends_at` (exclusive); ending it early moves
`ends_at` to the moment it was ended. Time is passed in.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from herald.domain.errors import InvalidInput

MAX_WINDOW = dt.timedelta(days=90)
MAX_REASON = 500
_DURATION = re.compile(r"(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?")


class MuteScope(StrEnum):
    """What a window mutes. Each scope names the delivery column it matches
    (`store.mute_repo.SCOPE_COLUMNS`); a new scope is one member here and one entry there."""

    PROJECT = "project"
    CONFIG = "config"


class MuteState(StrEnum):
    SCHEDULED = "scheduled"  # starts later
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True)
class MuteWindow:
    id: str
    scope: MuteScope
    scope_id: str  # the project's or config's id
    project_id: str | None  # whose members may see and change it; None: an organisation rule
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str  # the name of the token that created it
    created_at: dt.datetime
    ended_by: str | None = None  # who ended it early, if anyone

    def state(self, now: dt.datetime) -> MuteState:
        if now < self.starts_at:
            return MuteState.SCHEDULED
        return MuteState.ACTIVE if now < self.ends_at else MuteState.ENDED


def parse_duration(text: str) -> dt.timedelta:
    """ "30m", "2h", "1d", "1h30m" (days, hours, minutes in that order) as a time span."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or found is None:
        raise InvalidInput(
            f"duration {text!r} is not a duration; write e.g. 30m, 2h, 1d or 1h30m",
            {"field": "duration"},
        )
    days, hours, minutes = (int(part or 0) for part in found.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


def window_span(
    now: dt.datetime,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
    duration: str | None,
) -> tuple[dt.datetime, dt.datetime]:
    """The (start, end) of a new window: from `starts_at` (default now) until `ends_at` or for
    `duration` — exactly one of the two. The end must be after the start and in the future,
    and a window lasts at most 90 days."""
    if (ends_at is None) == (duration is None):
        raise InvalidInput('give either ends_at or duration (e.g. "2h"), not both or neither')
    start = starts_at or now
    end = ends_at if ends_at is not None else start + parse_duration(duration or "")
    if end < now:
        raise InvalidInput(
            "the window would already be over; give a later end", {"field": "ends_at"}
        )
    if end <= start:
        raise InvalidInput("the window must end after it starts", {"field": "ends_at"})
    if end - start > MAX_WINDOW:
        raise InvalidInput("a mute window lasts at most 90 days", {"field": "ends_at"})
    return start, end

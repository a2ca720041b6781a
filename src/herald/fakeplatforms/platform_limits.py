"""Published platform limits and the sliding-window bookkeeping that enforces them.

Every limit is a field of `Limits` whose default is the value documented in
platforms.md; tests replace fields to shrink windows. Time always comes from an injected
`Clock` (Unix seconds) so a test can jump past a 10-minute penalty without sleeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]
"""Returns the current Unix time in seconds (float)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Every rate window, size cap and clock tolerance the fakes enforce (published defaults)."""

    feishu_per_second: int = 5
    feishu_per_minute: int = 100
    feishu_max_body_bytes: int = 20_480
    feishu_sign_tolerance_s: float = 3600.0
    dingtalk_per_window: int = 20
    dingtalk_window_s: float = 60.0
    dingtalk_penalty_s: float = 600.0
    dingtalk_max_body_bytes: int = 20_000
    dingtalk_sign_tolerance_ms: int = 3_600_000
    wecom_token_ttl_s: float = 7200.0
    wecom_member_per_minute: int = 30
    wecom_member_per_hour: int = 1000
    wecom_app_content_max_bytes: int = 2048
    wecom_duplicate_interval_default_s: float = 1800.0
    wecom_duplicate_interval_max_s: float = 14_400.0
    wecom_bot_per_minute: int = 20
    wecom_bot_text_max_bytes: int = 2048
    wecom_bot_markdown_max_bytes: int = 4096
    endpoint_signature_tolerance_s: float = 300.0
    slack_per_second: int = 1
    discord_per_window: int = 10
    discord_window_s: float = 10.0
    teams_per_second: int = 4
    teams_max_body_bytes: int = 28_000


Rule = tuple[int, float]
"""(maximum admitted events, window length in seconds)."""


class RateLog:
    """Sliding-window log of admitted events for one rate-limited subject.

    `admit` records the event only when every rule still has room, so rejected attempts never
    consume quota (a client that keeps retrying is not punished further by the log itself).
    """

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: deque[float] = deque()

    def admit(self, now: float, rules: Sequence[Rule]) -> bool:
        """Return True and record `now` if each (limit, window) rule has fewer than `limit`
        events inside (now - window, now]; otherwise return False and record nothing."""
        horizon = max((window for _, window in rules), default=0.0)
        while self._events and self._events[0] <= now - horizon:
            self._events.popleft()
        for limit, window in rules:
            recent = sum(1 for at in self._events if at > now - window)
            if recent >= limit:
                return False
        self._events.append(now)
        return True


class PenaltyBox:
    """A sliding window that, once exceeded, rejects everything for a fixed penalty period.

    Models DingTalk: more than N sends in the window throttles the robot for 10 minutes.
    Rejected sends during the penalty do NOT extend it: no source we found (platforms.md
    §2.6, official wording "限流 10 分钟") says retries restart the clock, so the penalty runs
    from the first rejected send.
    """

    __slots__ = ("_blocked_until", "_log")

    def __init__(self) -> None:
        self._log = RateLog()
        self._blocked_until = float("-inf")

    def admit(self, now: float, limit: int, window: float, penalty: float) -> bool:
        """Return True if the event is admitted; the first over-limit event starts the penalty."""
        if now < self._blocked_until:
            return False
        if self._log.admit(now, [(limit, window)]):
            return True
        self._blocked_until = now + penalty
        return False

    def blocked_until(self) -> float:
        """Unix time the current penalty ends (-inf when never penalised)."""
        return self._blocked_until

"""Retry schedules. Jitter is only ever added, so a retry never fires before its schedule."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Built-in chat channels: 9 attempts over about 7.5 hours. Release notifications matter for
# hours, not days; the first retries come within seconds because most failures are blips.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400)
MAX_DELAY = 6 * 3600.0
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """`delays[i]` is the wait after failed attempt i+1; attempts = len(delays) + 1."""

    delays: tuple[float, ...]
    timeout: float

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    @classmethod
    def exponential(cls, retries: int, interval: float, timeout: float) -> RetryPolicy:
        """Custom channels: `retries` retries, `interval` × 2^n apart, capped at six hours."""
        return cls(tuple(min(interval * 2**n, MAX_DELAY) for n in range(retries)), timeout)

    @classmethod
    def default(cls, timeout: float, schedule: Sequence[float] = DEFAULT_SCHEDULE) -> RetryPolicy:
        return cls(tuple(schedule), timeout)

    @classmethod
    def from_json(cls, policy: Mapping[str, Any] | None, default_timeout: float) -> RetryPolicy:
        """A channel's stored policy (custom channels: `retries`, `interval`, `timeout`), else
        the default schedule with the operator's `default_timeout`."""
        if policy and "retries" in policy:
            return cls.exponential(
                int(policy["retries"]), float(policy["interval"]), float(policy["timeout"])
            )
        return cls.default(default_timeout)

    def delay_after(
        self,
        attempt: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait after failed attempt number `attempt` (1-based); None: give up.

        A `Retry-After` (or a platform's documented penalty) is a floor, capped at an hour so a
        hostile or confused server cannot park a message for days.
        """
        if attempt >= self.max_attempts:
            return None
        base = self.delays[attempt - 1]
        jitter = min(max(base * 0.1, 0.0), 900.0) * rand()
        delay = base + jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

"""Sliding-window rate limits per target, shared by all workers through the store.

A target keeps the times of its recent sends. A send may go at time t only if, for every limit
(count per window), fewer than `count` sends fall within the window ending at t. Windows are
widened by a margin so that network delay between our clock and the platform's cannot make two
sends look closer to the platform than they were to us.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WINDOW_MARGIN = 1.0  # seconds added to every window
EPSILON = 1e-3  # keeps a slot strictly after the window edge despite float rounding


@dataclass(frozen=True)
class Limit:
    count: int
    per_seconds: float


def prune(sends: Iterable[float], limits: Sequence[Limit], now: float) -> list[float]:
    """The send times that still matter for `limits` at `now`, oldest first."""
    horizon = max((lim.per_seconds for lim in limits), default=0.0) + WINDOW_MARGIN
    return sorted(t for t in sends if t > now - horizon)


def next_slot(sends: Sequence[float], limits: Sequence[Limit], now: float) -> float:
    """The earliest time ≥ `now` at which one more send respects every limit.

    `sends` must be sorted.
    """
    at = now
    for limit in limits:
        window = limit.per_seconds + WINDOW_MARGIN
        recent = sends[bisect.bisect_right(sends, at - window) :]
        if len(recent) >= limit.count:
            # The send that must leave the window is count-th from the end.
            at = max(at, recent[len(recent) - limit.count] + window + EPSILON)
    if at > now:
        return next_slot(sends, limits, at) if _violates(sends, limits, at) else at
    return at


def _violates(sends: Sequence[float], limits: Sequence[Limit], at: float) -> bool:
    return any(
        len(sends) - bisect.bisect_right(sends, at - (lim.per_seconds + WINDOW_MARGIN)) >= lim.count
        for lim in limits
    )


def plan(
    sends: Sequence[float], limits: Sequence[Limit], now: float, wanted: int, horizon: float
) -> tuple[list[float], int]:
    """Slot times for up to `wanted` sends within `horizon` seconds, and how many fit by then.

    Returns the slot times (the first may be `now`) in order; the caller reserves the ones it
    uses by appending them to the target's sends.
    """
    booked = list(sends)
    slots: list[float] = []
    while len(slots) < wanted:
        at = next_slot(booked, limits, now) if limits else now
        if at > now + horizon:
            break
        slots.append(at)
        bisect.insort(booked, at)
    return slots, len(slots)

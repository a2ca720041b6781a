"""Liveness of the background loops, so `/healthz` can say when one has stopped working.

Each loop beats after every completed cycle. A loop that keeps failing (the database
unreachable, a secret it cannot decrypt) keeps its last beat, and once that is older than the
allowed silence the health check reports the loop as stalled with its last error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Beat:
    at: float
    error: str | None = None


class Heartbeats:
    def __init__(self, silence: float = 60.0) -> None:
        self.silence = silence
        self._lock = threading.Lock()
        self._beats: dict[str, Beat] = {}

    def beat(self, name: str) -> None:
        with self._lock:
            self._beats[name] = Beat(time.monotonic())

    def failed(self, name: str, error: str) -> None:
        with self._lock:
            last = self._beats.get(name)
            self._beats[name] = Beat(last.at if last else time.monotonic(), error)

    def report(self) -> dict[str, dict[str, object]]:
        """Per loop: ok, seconds since the last completed cycle, and the last error if any."""
        now = time.monotonic()
        with self._lock:
            beats = dict(self._beats)
        return {
            name: {
                "ok": now - b.at <= self.silence,
                "last_cycle_seconds_ago": round(now - b.at, 1),
                "last_error": b.error,
            }
            for name, b in beats.items()
        }


async def guarded_cycles(
    name: str, cycle: Callable[[], Awaitable[None]], beats: Heartbeats, log: logging.Logger
) -> None:
    """Run `cycle()` forever; a failing cycle is logged and retried with backoff, never fatal."""
    backoff = 0.5
    while True:
        try:
            await cycle()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            beats.failed(name, f"{type(exc).__name__}: {str(exc)[:300]}")
            log.exception("%s cycle failed; retrying in %.1fs", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = 0.5
        beats.beat(name)

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

from herald.store.db import describe_error, driver_error, is_transient


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
    """Run `cycle()` forever; a failing cycle is retried with backoff, never fatal.

    The first failure of a run of failures is logged with its traceback, unless the database is
    merely unavailable (`is_transient`); the repeats (an outage fails every cycle until it ends)
    get one line each, and the recovery one more.
    """
    backoff, failures = 0.5, 0
    while True:
        try:
            await cycle()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            shown = driver_error(exc)  # the database's own words, not the store's wrapper
            beats.failed(name, f"{type(shown).__name__}: {str(shown)[:300]}")
            if failures == 0 and not is_transient(exc):
                log.exception("%s cycle failed; retrying in %.1fs", name, backoff)
            else:  # an outage's traceback says nothing new; one line per retry is enough
                again = " again" if failures else ""
                log.warning(
                    "%s cycle failed%s (%s); retrying in %.1fs",
                    name,
                    again,
                    describe_error(exc),
                    backoff,
                )
            failures += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        if failures:
            log.info("%s cycle works again after %d failed cycle(s)", name, failures)
        backoff, failures = 0.5, 0
        beats.beat(name)

"""In-process wake-up signals between the API, the release engine and the delivery worker.

`Signal.fire()` may be called from any thread (API handlers run in a thread pool); waiters are
asyncio tasks on whatever loop they registered from. Across processes, PostgreSQL LISTEN/NOTIFY
does the same job (see `herald.store.listener`); polling is only the fallback.
"""

from __future__ import annotations

import asyncio
import threading


class Signal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def fire(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, flag in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(flag.set)

    def subscribe(self, flag: asyncio.Event | None = None) -> asyncio.Event:
        """An event set on every `fire()` (`flag`, or a new one); the caller clears it."""
        flag = flag or asyncio.Event()
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), flag))
        return flag

    def unsubscribe(self, flag: asyncio.Event) -> None:
        with self._lock:
            self._waiters = [(lp, f) for lp, f in self._waiters if f is not flag]


class Wakeups:
    def __init__(self) -> None:
        self.events = Signal()  # an outbox event committed
        self.tasks = Signal()  # a task became runnable (started, promoted, resumed)
        self.deliveries = Signal()  # deliveries became due (fan-out, resend, test)


async def wait_for(flag: asyncio.Event, seconds: float) -> bool:
    """Wait until `flag` is set or `seconds` pass; clear it; tell whether it was set."""
    try:
        await asyncio.wait_for(flag.wait(), seconds)
    except TimeoutError:
        return False
    flag.clear()
    return True

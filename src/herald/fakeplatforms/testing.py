"""Ways to run the fakes inside tests, demos and benchmarks.

- `async with running_fake_platforms() as fake:` — on the current event loop.
- `with FakePlatformsThread() as fake:` — on a private loop in a daemon thread, for sync code.
- `ManualClock` — an injectable clock a test moves by hand (rate windows, penalties, expiry).

Both runners yield a bound `FakePlatforms` handle.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from herald.fakeplatforms.control import apply_config
from herald.fakeplatforms.hub import FakePlatforms
from herald.fakeplatforms.platform_limits import Clock, Limits
from herald.fakeplatforms.server import start_server

STARTUP_TIMEOUT_S = 10.0


class ManualClock:
    """A thread-safe clock that only moves when told to. Call it for Unix seconds."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds`; returns the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = now


@asynccontextmanager
async def running_fake_platforms(
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    *,
    limits: Limits | None = None,
    config: dict[str, Any] | None = None,
) -> AsyncIterator[FakePlatforms]:
    """Serve the fakes on the running loop for the duration of the block."""
    fake = FakePlatforms(clock, limits)
    apply_config(fake, config)
    runner = await start_server(fake, host, port)
    try:
        yield fake
    finally:
        await runner.cleanup()


class FakePlatformsThread:
    """Context manager serving the fakes from a background thread with its own event loop.

    `__enter__` blocks until the server listens (or re-raises its startup error) and returns
    the bound `FakePlatforms`; `__exit__` stops the server and joins the thread. Single use.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        *,
        limits: Limits | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.fake = FakePlatforms(clock, limits)
        apply_config(self.fake, config)
        self._address = (host, port)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-platforms", daemon=True)

    def __enter__(self) -> FakePlatforms:
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError("fake platforms server did not start in time")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self.fake

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            runner = await start_server(self.fake, *self._address)
        except BaseException as exc:  # handed to the starting thread, which re-raises it
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

"""PostgreSQL LISTEN/NOTIFY: wake workers in other processes the moment work is committed."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from herald.store.fanout import DELIVERIES_CHANNEL
from herald.store.outbox import EVENTS_CHANNEL

log = logging.getLogger(__name__)


def psycopg_dsn(database_url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix) :]
    return database_url


async def listen(database_url: str, flag: asyncio.Event) -> None:
    """Set `flag` on every notification; reconnect with backoff until cancelled."""
    backoff = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                psycopg_dsn(database_url), autocommit=True
            ) as conn:
                for channel in (EVENTS_CHANNEL, DELIVERIES_CHANNEL):
                    await conn.execute(f"LISTEN {channel}")
                backoff = 0.5
                flag.set()  # anything committed while we were not listening
                async for _ in conn.notifies():
                    flag.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("LISTEN connection lost (%s); polling until it is back", type(exc).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

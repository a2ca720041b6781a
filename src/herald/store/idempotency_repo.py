"""Idempotency-Key reservations: the first request with a key reserves it by an INSERT that
conflicts for everyone after it (on every API replica: the database decides), then stores
its answer for the retries to replay."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from herald.store.tables import idempotency_keys as keys

PENDING, DONE = "pending", "done"


class Verdict(StrEnum):
    NEW = "new"  # the caller holds the key: do the work, then `complete` or `release`
    REPLAY = "replay"  # done before: answer `status` and `body`
    MISMATCH = "mismatch"  # the key was used for another request
    IN_FLIGHT = "in_flight"  # another request with the key is being served


@dataclass(frozen=True)
class Reservation:
    verdict: Verdict
    status: int | None = None
    body: str | None = None


def reserve(
    conn: Connection,
    scope: str,
    request_hash: str,
    now: dt.datetime,
    lease: dt.timedelta,
    keep: dt.timedelta,
) -> Reservation:
    """Reserve `scope` for a request with `request_hash`, or say why not.

    An expired key is reserved afresh; a pending reservation whose lease ran out (its holder
    crashed) is taken over.
    """
    values = {
        "scope": scope,
        "request_hash": request_hash,
        "state": PENDING,
        "lease_until": now + lease,
        "created_at": now,
        "expires_at": now + keep,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = (
        dialect.insert(keys)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["scope"])
        .returning(keys.c.scope)  # rowcount is not reliable for this statement on psycopg
    )
    if conn.execute(insert).first() is not None:
        return Reservation(Verdict.NEW)
    row = conn.execute(sa.select(keys).where(keys.c.scope == scope)).first()
    if row is None:
        return Reservation(Verdict.IN_FLIGHT)  # released meanwhile: the caller asks again
    mine = keys.c.scope == scope
    if row.expires_at <= now:
        renewed = keys.update().where(mine, keys.c.expires_at <= now).values(**values)
        if conn.execute(renewed).rowcount == 1:
            return Reservation(Verdict.NEW)
        return Reservation(Verdict.IN_FLIGHT)
    if row.request_hash != request_hash:
        return Reservation(Verdict.MISMATCH)
    if row.state == DONE:
        return Reservation(Verdict.REPLAY, row.response_status, row.response_body)
    if row.lease_until <= now:
        taken = (
            keys.update()
            .where(mine, keys.c.state == PENDING, keys.c.lease_until <= now)
            .values(lease_until=now + lease)
        )
        if conn.execute(taken).rowcount == 1:
            return Reservation(Verdict.NEW)
    return Reservation(Verdict.IN_FLIGHT)


def complete(conn: Connection, scope: str, status: int, body: str) -> None:
    conn.execute(
        keys.update()
        .where(keys.c.scope == scope, keys.c.state == PENDING)
        .values(state=DONE, response_status=status, response_body=body)
    )


def release(conn: Connection, scope: str) -> None:
    """Forget a pending reservation (its request failed): a retry does the work again."""
    conn.execute(keys.delete().where(keys.c.scope == scope, keys.c.state == PENDING))


def prune(conn: Connection, now: dt.datetime, batch: int) -> int:
    """Delete up to `batch` expired keys; return how many."""
    expired = sa.select(keys.c.scope).where(keys.c.expires_at < now).limit(batch)
    scopes = [r.scope for r in conn.execute(expired)]
    if not scopes:
        return 0
    conn.execute(keys.delete().where(keys.c.scope.in_(scopes), keys.c.expires_at < now))
    return len(scopes)

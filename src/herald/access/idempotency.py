"""Idempotency keys: the same key, token and request answer the first response again.

A key is scoped to the token that sent it (by a hash of both: neither is stored) and bound to
the request it first came with (method, path, query and the body as canonical JSON). Only
successful answers (2xx) are kept, for `KEEP`; a request that failed leaves no trace, so its
retry does the work again. Expired keys are pruned in bounded batches whenever a key is
reserved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from herald.runtime.clock import Clock
from herald.store import idempotency_repo as repo
from herald.store.db import Database
from herald.store.idempotency_repo import Reservation, Verdict

KEEP = dt.timedelta(hours=24)
LEASE = dt.timedelta(seconds=60)  # a reservation older than this was abandoned by a crash
PRUNE_BATCH = 200
MAX_KEY_LENGTH = 255

__all__ = ["IdempotencyService", "Reservation", "Verdict", "fingerprint", "valid_key"]


def valid_key(key: str) -> bool:
    """1-255 printable ASCII characters (what a header carries safely)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in key)


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same: the body compared as canonical JSON when it is JSON
    (key order and spacing do not matter), byte for byte otherwise."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def scope_of(token: str, key: str) -> str:
    digest = hashlib.sha256(b"herald-idempotency\0" + token.encode() + b"\0" + key.encode())
    return digest.hexdigest()


class IdempotencyService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def reserve(self, token: str, key: str, request: str) -> tuple[str, Reservation]:
        """Reserve (token, key) for the request fingerprinted `request`; the scope to finish
        it with, and the verdict."""
        scope = scope_of(token, key)
        now = self.clock.now()
        with self.db.transaction() as uow:
            found = repo.reserve(uow.conn, scope, request, now, LEASE, KEEP)
            if found.verdict is Verdict.NEW:
                repo.prune(uow.conn, now, PRUNE_BATCH)
        return scope, found

    def complete(self, scope: str, status: int, body: str) -> None:
        with self.db.transaction() as uow:
            repo.complete(uow.conn, scope, status, body)

    def release(self, scope: str) -> None:
        with self.db.transaction() as uow:
            repo.release(uow.conn, scope)

    def prune(self, batch: int = PRUNE_BATCH) -> int:
        with self.db.transaction() as uow:
            return repo.prune(uow.conn, self.clock.now(), batch)

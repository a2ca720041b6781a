"""Re-encrypt every stored secret under the newest key (`herald secrets rotate`).

Run it after putting the new key in `HERALD_SECRET_KEY` and the previous one(s) in
`HERALD_OLD_SECRET_KEYS`; once it reports nothing left to rotate, the old keys can go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from herald.runtime.clock import Clock
from herald.security.encryption import KeyRing
from herald.store.db import Database, UnitOfWork
from herald.store.tables import callback_channels, wecom_tokens


@dataclass(frozen=True)
class RotationReport:
    channels: int
    tokens: int
    already_current: int


def rotate_secrets(db: Database, keyring: KeyRing, clock: Clock) -> RotationReport:
    """Rotate in one transaction: a failure (e.g. a key missing) changes nothing."""
    now = clock.now()
    with db.transaction() as uow:
        channels, current_channels = _rotate_column(
            uow, keyring, callback_channels.c.id, callback_channels.c.secret_config, now
        )
        tokens, current_tokens = _rotate_column(
            uow, keyring, wecom_tokens.c.key, wecom_tokens.c.secret_token, now
        )
    return RotationReport(channels, tokens, current_channels + current_tokens)


def _rotate_column(
    uow: UnitOfWork, keyring: KeyRing, key: sa.Column[str], column: sa.Column[str], now: dt.datetime
) -> tuple[int, int]:
    """Re-encrypt `column` where needed; (rotated, already current)."""
    table = column.table
    rotated = current = 0
    for row_key, token in uow.conn.execute(sa.select(key, column)).all():
        if not keyring.needs_rotation(token):
            current += 1
            continue
        uow.execute(
            table.update()
            .where(key == row_key)
            .values({column.name: keyring.rotate(token), "updated_at": now})
        )
        rotated += 1
    return rotated, current

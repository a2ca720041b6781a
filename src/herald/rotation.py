"""Re-encrypt every stored secret under the newest key (`herald secrets rotate`).

Run it after putting the new key in `HERALD_SECRET_KEY` and the previous one(s) in
`HERALD_OLD_SECRET_KEYS`; once it reports nothing left to rotate, the old keys can go.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from herald.clock import Clock
from herald.crypto import KeyRing
from herald.store.db import Database
from herald.store.tables import callback_channels, wecom_tokens


@dataclass(frozen=True)
class RotationReport:
    channels: int
    tokens: int
    already_current: int


def rotate_secrets(db: Database, keyring: KeyRing, clock: Clock) -> RotationReport:
    """Rotate in one transaction: a failure (e.g. a key missing) changes nothing."""
    now = clock.now()
    channels = tokens = current = 0
    with db.transaction() as uow:
        for row in uow.conn.execute(
            sa.select(callback_channels.c.id, callback_channels.c.secret_config)
        ).all():
            if not keyring.needs_rotation(row.secret_config):
                current += 1
                continue
            uow.execute(
                callback_channels.update()
                .where(callback_channels.c.id == row.id)
                .values(secret_config=keyring.rotate(row.secret_config), updated_at=now)
            )
            channels += 1
        for row in uow.conn.execute(
            sa.select(wecom_tokens.c.key, wecom_tokens.c.secret_token)
        ).all():
            if not keyring.needs_rotation(row.secret_token):
                current += 1
                continue
            uow.execute(
                wecom_tokens.update()
                .where(wecom_tokens.c.key == row.key)
                .values(secret_token=keyring.rotate(row.secret_token), updated_at=now)
            )
            tokens += 1
    return RotationReport(channels, tokens, current)

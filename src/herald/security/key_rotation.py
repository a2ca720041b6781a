"""Re-encrypt every stored secret under the newest key (`herald secrets rotate`).

Run it after putting the new key in `HERALD_SECRET_KEY` and the previous one(s) in
`HERALD_OLD_SECRET_KEYS`; once it reports nothing left to rotate, the old keys can go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from herald.runtime.clock import Clock
from herald.security.encryption import KeyRing
from herald.store.db import Connection, Database
from herald.store.secret_columns import SecretKind, read_secrets, write_secret


@dataclass(frozen=True)
class RotationReport:
    channels: int
    tokens: int
    already_current: int
    inbound: int = 0  # inbound webhook sources' secrets


def rotate_secrets(db: Database, keyring: KeyRing, clock: Clock) -> RotationReport:
    """Rotate in one transaction: a failure (e.g. a key missing) changes nothing."""
    now = clock.now()
    with db.transaction() as uow:
        channels, current_channels = _rotate(uow.conn, keyring, "channel_settings", now)
        # A destination's settings are channel settings shared by every config using them.
        shared, current_shared = _rotate(uow.conn, keyring, "destination_settings", now)
        tokens, current_tokens = _rotate(uow.conn, keyring, "wecom_tokens", now)
        inbound, current_inbound = _rotate(uow.conn, keyring, "inbound_sources", now)
    current = current_channels + current_shared + current_tokens + current_inbound
    return RotationReport(channels + shared, tokens, current, inbound)


def _rotate(
    conn: Connection, keyring: KeyRing, kind: SecretKind, now: dt.datetime
) -> tuple[int, int]:
    """Re-encrypt the secrets of `kind` where needed; (rotated, already current)."""
    rotated = current = 0
    for row_key, token in read_secrets(conn, kind):
        if not keyring.needs_rotation(token):
            current += 1
            continue
        write_secret(conn, kind, row_key, keyring.rotate(token), now)
        rotated += 1
    return rotated, current

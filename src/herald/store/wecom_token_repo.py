"""The shared cache of WeCom access tokens, one row per app (keyed by a fingerprint), each
token encrypted by `herald.delivery.wecom_tokens` before it gets here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.store.dialect import insert_ignoring_duplicates
from herald.store.tables import wecom_tokens


@dataclass(frozen=True)
class CachedToken:
    secret_token: str  # encrypted
    expires_at: float  # Unix seconds


def load_token(conn: Connection, key: str) -> CachedToken | None:
    row = conn.execute(
        sa.select(wecom_tokens.c.secret_token, wecom_tokens.c.expires_at).where(
            wecom_tokens.c.key == key
        )
    ).first()
    return None if row is None else CachedToken(row.secret_token, row.expires_at)


def forget_token(conn: Connection, key: str) -> None:
    conn.execute(wecom_tokens.delete().where(wecom_tokens.c.key == key))


def save_token(conn: Connection, key: str, token: CachedToken, now: dt.datetime) -> None:
    """Insert or replace the app's token (replicas may race to insert it; both then update)."""
    values = {"secret_token": token.secret_token, "expires_at": token.expires_at, "updated_at": now}
    insert_ignoring_duplicates(conn, wecom_tokens, [{"key": key, **values}], ["key"])
    conn.execute(wecom_tokens.update().where(wecom_tokens.c.key == key).values(**values))

"""The stored secrets, read and rewritten as opaque tokens: what `herald secrets rotate`
re-encrypts under the newest key (`herald.security.key_rotation` does the cryptography)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.store.tables import callback_channels, destinations, inbound_sources, wecom_tokens

SecretKind = Literal["channel_settings", "destination_settings", "wecom_tokens", "inbound_sources"]

_COLUMNS: dict[SecretKind, tuple[sa.Column[str], sa.Column[str]]] = {
    "channel_settings": (callback_channels.c.id, callback_channels.c.secret_config),
    "destination_settings": (destinations.c.id, destinations.c.secret_config),
    "wecom_tokens": (wecom_tokens.c.key, wecom_tokens.c.secret_token),
    "inbound_sources": (inbound_sources.c.id, inbound_sources.c.secret),
}


def read_secrets(conn: Connection, kind: SecretKind) -> list[tuple[str, str]]:
    """(row key, encrypted token) of every stored secret of `kind`."""
    key, column = _COLUMNS[kind]
    # "": a channel that references a destination keeps no settings of its own.
    query = sa.select(key, column).where(column != "")
    return [(row_key, token) for row_key, token in conn.execute(query).all()]


def write_secret(
    conn: Connection, kind: SecretKind, row_key: str, token: str, now: dt.datetime
) -> None:
    key, column = _COLUMNS[kind]
    values: dict[str, object] = {column.name: token}
    if "updated_at" in column.table.c:
        values["updated_at"] = now
    conn.execute(column.table.update().where(key == row_key).values(values))

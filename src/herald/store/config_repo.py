"""Persistence of callback configs; channel settings are stored encrypted as one token each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.channels.channel_config import load_channel_config
from herald.domain.errors import NotFound
from herald.domain.subscriptions import Filters
from herald.publishing.config_model import CallbackConfig, Channel
from herald.security.encryption import KeyRing, SecretDecryptError
from herald.store.tables import callback_channels, callback_configs, targets


def _channel(row: Any, keyring: KeyRing) -> Channel:
    return Channel(
        id=row.id,
        config_id=row.config_id,
        position=row.position,
        type=row.type,
        enabled=row.enabled,
        config=load_channel_config(row.type, keyring.decrypt_json(row.secret_config)),
        target_key=row.target_key,
        rate_limit=row.rate_limit,
        policy=row.policy,
        templates=row.templates,
        updated_at=row.updated_at,
    )


def _config(row: Any, channels: Sequence[Channel]) -> CallbackConfig:
    return CallbackConfig(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        enabled=row.enabled,
        events=tuple(row.events),
        filters=Filters.from_json(row.filters),
        locale=row.locale,
        templates=row.templates,
        channels=tuple(channels),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def load_configs(conn: Connection, rows: Sequence[Any], keyring: KeyRing) -> list[CallbackConfig]:
    ids = [r.id for r in rows]
    by_config: dict[str, list[Channel]] = {i: [] for i in ids}
    if ids:
        query = (
            sa.select(callback_channels)
            .where(callback_channels.c.config_id.in_(ids))
            .order_by(callback_channels.c.position)
        )
        for ch in conn.execute(query):
            by_config[ch.config_id].append(_channel(ch, keyring))
    return [_config(r, by_config[r.id]) for r in rows]


def load_changed(
    conn: Connection,
    stamps: dict[str, dt.datetime],
    known: dict[str, dt.datetime],
    keyring: KeyRing,
) -> tuple[list[CallbackConfig], dict[str, str]]:
    """The configs whose current `stamps` (id → updated_at) differ from the `known` ones, and
    (id → reason) those whose secrets cannot be decrypted with the current keys."""
    stale = sorted(cid for cid, stamp in stamps.items() if known.get(cid) != stamp)
    if not stale:
        return [], {}
    rows = conn.execute(sa.select(callback_configs).where(callback_configs.c.id.in_(stale))).all()
    loaded, broken = [], {}
    for row in rows:
        try:
            loaded += load_configs(conn, [row], keyring)
        except SecretDecryptError:
            broken[row.id] = (
                "cannot decrypt the channel settings with the configured keys; check "
                "HERALD_SECRET_KEY and HERALD_OLD_SECRET_KEYS"
            )
    return loaded, broken


def get_config(conn: Connection, config_id: str, keyring: KeyRing) -> CallbackConfig:
    row = conn.execute(
        sa.select(callback_configs).where(callback_configs.c.id == config_id)
    ).first()
    if row is None:
        raise NotFound(f"callback config {config_id} does not exist", {"config_id": config_id})
    return load_configs(conn, [row], keyring)[0]


def config_project(conn: Connection, config_id: str) -> str:
    row = conn.execute(
        sa.select(callback_configs.c.project_id).where(callback_configs.c.id == config_id)
    ).first()
    if row is None:
        raise NotFound(f"callback config {config_id} does not exist", {"config_id": config_id})
    return str(row.project_id)


def list_configs(
    conn: Connection,
    keyring: KeyRing,
    *,
    project_ids: set[str] | None,
    project_id: str | None,
    after: str | None,
    limit: int,
) -> list[CallbackConfig]:
    query = sa.select(callback_configs).order_by(callback_configs.c.id).limit(limit)
    if project_ids is not None:
        query = query.where(callback_configs.c.project_id.in_(sorted(project_ids)))
    if project_id is not None:
        query = query.where(callback_configs.c.project_id == project_id)
    if after:
        query = query.where(callback_configs.c.id > after)
    return load_configs(conn, conn.execute(query).all(), keyring)


def insert_config(conn: Connection, config: CallbackConfig, keyring: KeyRing) -> None:
    conn.execute(
        callback_configs.insert().values(
            **_config_values(config),
            id=config.id,
            project_id=config.project_id,
            created_at=config.created_at,
        )
    )
    _insert_channels(conn, config.channels, keyring)


def replace_config(conn: Connection, config: CallbackConfig, keyring: KeyRing) -> None:
    conn.execute(
        callback_configs.update()
        .where(callback_configs.c.id == config.id)
        .values(**_config_values(config))
    )
    conn.execute(callback_channels.delete().where(callback_channels.c.config_id == config.id))
    _insert_channels(conn, config.channels, keyring)


def delete_config(conn: Connection, config_id: str) -> None:
    conn.execute(callback_channels.delete().where(callback_channels.c.config_id == config_id))
    conn.execute(callback_configs.delete().where(callback_configs.c.id == config_id))


def _config_values(config: CallbackConfig) -> dict[str, Any]:
    return {
        "name": config.name,
        "enabled": config.enabled,
        "events": list(config.events),
        "filters": config.filters.to_json(),
        "locale": config.locale,
        "templates": config.templates,
        "updated_at": config.updated_at,
    }


def _insert_channels(conn: Connection, channels: Sequence[Channel], keyring: KeyRing) -> None:
    if not channels:
        return
    conn.execute(
        callback_channels.insert(),
        [
            {
                "id": ch.id,
                "config_id": ch.config_id,
                "position": ch.position,
                "type": ch.type,
                "enabled": ch.enabled,
                "secret_config": keyring.encrypt_json(ch.config.model_dump(mode="json")),
                "target_key": ch.target_key,
                "rate_limit": ch.rate_limit,
                "policy": ch.policy,
                "templates": ch.templates,
                "created_at": ch.updated_at,
                "updated_at": ch.updated_at,
            }
            for ch in channels
        ],
    )


def hide_target_paths(conn: Connection, described: Sequence[tuple[str, str]]) -> None:
    """Set each (target key, masked description) whose stored description differs: for URLs
    whose path is secret, which an earlier description may still show."""
    for key, description in described:
        conn.execute(
            sa.update(targets)
            .where(targets.c.key == key, targets.c.description != description)
            .values(description=description)
        )

"""Persistence of callback configs and their channels, as stored: each channel's settings are
one encrypted token that `herald.publishing.stored_configs` encrypts and decrypts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.errors import NotFound
from herald.store.tables import callback_channels, callback_configs, destinations, targets


@dataclass(frozen=True)
class ChannelRecord:
    id: str
    config_id: str
    position: int
    type: str
    enabled: bool
    secret_config: str  # the channel's settings, encrypted
    target_key: str
    rate_limit: dict[str, Any] | None
    policy: dict[str, Any] | None
    templates: dict[str, Any] | None
    updated_at: dt.datetime
    # Set: the settings above are the destination's (read through it, stored there only).
    destination_id: str | None = None


@dataclass(frozen=True)
class ConfigRecord:
    id: str
    project_id: str | None  # None: an organisation rule
    name: str
    enabled: bool
    events: tuple[str, ...]
    filters: dict[str, Any] | None
    locale: str
    templates: dict[str, Any] | None
    channels: tuple[ChannelRecord, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    project_labels: dict[str, str] | None = None  # organisation rules: the projects they reach


def _channel(row: Any) -> ChannelRecord:
    return ChannelRecord(
        id=row.id,
        config_id=row.config_id,
        position=row.position,
        type=row.type,
        enabled=row.enabled,
        secret_config=row.destination_secret or row.secret_config,
        target_key=row.target_key,
        rate_limit=row.rate_limit,
        policy=row.policy,
        templates=row.templates,
        updated_at=row.updated_at,
        destination_id=row.destination_id,
    )


def _records(conn: Connection, rows: Sequence[Any]) -> list[ConfigRecord]:
    """`rows` of callback_configs with their channels, in one more query."""
    by_config: dict[str, list[ChannelRecord]] = {r.id: [] for r in rows}
    if by_config:
        query = (
            sa.select(callback_channels, destinations.c.secret_config.label("destination_secret"))
            .outerjoin(destinations, destinations.c.id == callback_channels.c.destination_id)
            .where(callback_channels.c.config_id.in_(list(by_config)))
            .order_by(callback_channels.c.position)
        )
        for ch in conn.execute(query):
            by_config[ch.config_id].append(_channel(ch))
    return [
        ConfigRecord(
            id=r.id,
            project_id=r.project_id,
            name=r.name,
            enabled=r.enabled,
            events=tuple(r.events),
            filters=r.filters,
            locale=r.locale,
            templates=r.templates,
            channels=tuple(by_config[r.id]),
            created_at=r.created_at,
            updated_at=r.updated_at,
            project_labels=r.project_labels,
        )
        for r in rows
    ]


def configs_by_id(conn: Connection, config_ids: Sequence[str]) -> list[ConfigRecord]:
    """The configs among `config_ids` that exist, in no particular order."""
    if not config_ids:
        return []
    query = sa.select(callback_configs).where(callback_configs.c.id.in_(list(config_ids)))
    return _records(conn, conn.execute(query).all())


def get_config(conn: Connection, config_id: str) -> ConfigRecord:
    found = configs_by_id(conn, [config_id])
    if not found:
        raise NotFound(f"callback config {config_id} does not exist", {"config_id": config_id})
    return found[0]


def config_project(conn: Connection, config_id: str) -> str | None:
    """The config's project; None for an organisation rule."""
    row = conn.execute(
        sa.select(callback_configs.c.project_id).where(callback_configs.c.id == config_id)
    ).first()
    if row is None:
        raise NotFound(f"callback config {config_id} does not exist", {"config_id": config_id})
    return None if row.project_id is None else str(row.project_id)


def list_configs(
    conn: Connection,
    *,
    project_ids: set[str] | None,
    project_id: str | None,
    after: str | None,
    limit: int,
    org_rules: bool = False,
) -> list[ConfigRecord]:
    """`org_rules`: only the organisation rules (configs without a project)."""
    query = sa.select(callback_configs).order_by(callback_configs.c.id).limit(limit)
    if project_ids is not None:
        query = query.where(callback_configs.c.project_id.in_(sorted(project_ids)))
    if project_id is not None:
        query = query.where(callback_configs.c.project_id == project_id)
    if org_rules:
        query = query.where(callback_configs.c.project_id.is_(None))
    if after:
        query = query.where(callback_configs.c.id > after)
    return _records(conn, conn.execute(query).all())


def insert_config(conn: Connection, config: ConfigRecord) -> None:
    conn.execute(
        callback_configs.insert().values(
            **_config_values(config),
            id=config.id,
            project_id=config.project_id,
            created_at=config.created_at,
        )
    )
    _insert_channels(conn, config.channels)


def replace_config(conn: Connection, config: ConfigRecord) -> None:
    conn.execute(
        callback_configs.update()
        .where(callback_configs.c.id == config.id)
        .values(**_config_values(config))
    )
    conn.execute(callback_channels.delete().where(callback_channels.c.config_id == config.id))
    _insert_channels(conn, config.channels)


def delete_config(conn: Connection, config_id: str) -> None:
    conn.execute(callback_channels.delete().where(callback_channels.c.config_id == config_id))
    conn.execute(callback_configs.delete().where(callback_configs.c.id == config_id))


def _config_values(config: ConfigRecord) -> dict[str, Any]:
    return {
        "name": config.name,
        "enabled": config.enabled,
        "events": list(config.events),
        "filters": config.filters,
        "locale": config.locale,
        "templates": config.templates,
        "updated_at": config.updated_at,
        "project_labels": config.project_labels,
    }


def _insert_channels(conn: Connection, channels: Sequence[ChannelRecord]) -> None:
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
                "secret_config": ch.secret_config,
                "target_key": ch.target_key,
                "rate_limit": ch.rate_limit,
                "policy": ch.policy,
                "templates": ch.templates,
                "created_at": ch.updated_at,
                "updated_at": ch.updated_at,
                "destination_id": ch.destination_id,
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

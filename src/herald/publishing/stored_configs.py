"""Callback configs to and from the store: channel settings are encrypted as one token each on
the way in, and decrypted and validated on the way out (the store only keeps the tokens)."""

from __future__ import annotations

import datetime as dt

from herald.channels.channel_config import ChannelConfig, load_channel_config
from herald.domain.subscriptions import Filters
from herald.publishing.config_model import CallbackConfig, Channel, Destination
from herald.security.encryption import KeyRing, SecretDecryptError
from herald.store import config_repo as repo
from herald.store.config_repo import ChannelRecord, ConfigRecord
from herald.store.db import Connection
from herald.store.destination_repo import DestinationRecord

UNREADABLE = (
    "cannot decrypt the channel settings with the configured keys; check "
    "HERALD_SECRET_KEY and HERALD_OLD_SECRET_KEYS"
)


def seal_settings(config: ChannelConfig, keyring: KeyRing) -> str:
    """A channel's settings as the one encrypted token the store keeps."""
    return keyring.encrypt_json(config.model_dump(mode="json"))


def open_settings(channel_type: str, token: str, keyring: KeyRing) -> ChannelConfig:
    """Raises `SecretDecryptError` when the keys cannot read the token."""
    return load_channel_config(channel_type, keyring.decrypt_json(token))


def decode_destination(record: DestinationRecord, keyring: KeyRing) -> Destination:
    return Destination(
        id=record.id,
        project_id=record.project_id,
        name=record.name,
        type=record.type,
        config=open_settings(record.type, record.secret_config, keyring),
        target_key=record.target_key,
        rate_limit=record.rate_limit,
        policy=record.policy,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def encode_destination(destination: Destination, keyring: KeyRing) -> DestinationRecord:
    return DestinationRecord(
        id=destination.id,
        project_id=destination.project_id,
        name=destination.name,
        type=destination.type,
        secret_config=seal_settings(destination.config, keyring),
        target_key=destination.target_key,
        rate_limit=destination.rate_limit,
        policy=destination.policy,
        created_at=destination.created_at,
        updated_at=destination.updated_at,
    )


def decode(record: ConfigRecord, keyring: KeyRing) -> CallbackConfig:
    """Raises `SecretDecryptError` when the keys cannot read a channel's settings."""
    return CallbackConfig(
        id=record.id,
        project_id=record.project_id,
        name=record.name,
        enabled=record.enabled,
        events=record.events,
        filters=Filters.from_json(record.filters),
        locale=record.locale,
        templates=record.templates,
        channels=tuple(_channel(ch, keyring) for ch in record.channels),
        created_at=record.created_at,
        updated_at=record.updated_at,
        project_labels=record.project_labels,
    )


def _channel(record: ChannelRecord, keyring: KeyRing) -> Channel:
    return Channel(
        id=record.id,
        config_id=record.config_id,
        position=record.position,
        type=record.type,
        enabled=record.enabled,
        config=open_settings(record.type, record.secret_config, keyring),
        target_key=record.target_key,
        rate_limit=record.rate_limit,
        policy=record.policy,
        templates=record.templates,
        updated_at=record.updated_at,
        destination_id=record.destination_id,
    )


def encode(config: CallbackConfig, keyring: KeyRing) -> ConfigRecord:
    return ConfigRecord(
        id=config.id,
        project_id=config.project_id,
        name=config.name,
        enabled=config.enabled,
        events=config.events,
        filters=config.filters.to_json(),
        locale=config.locale,
        templates=config.templates,
        channels=tuple(
            ChannelRecord(
                id=ch.id,
                config_id=ch.config_id,
                position=ch.position,
                type=ch.type,
                enabled=ch.enabled,
                # A reference keeps no copy of the destination's secrets: "" (see config_repo).
                secret_config="" if ch.destination_id else seal_settings(ch.config, keyring),
                target_key=ch.target_key,
                rate_limit=ch.rate_limit,
                policy=ch.policy,
                templates=ch.templates,
                updated_at=ch.updated_at,
                destination_id=ch.destination_id,
            )
            for ch in config.channels
        ),
        created_at=config.created_at,
        updated_at=config.updated_at,
        project_labels=config.project_labels,
    )


def get_config(conn: Connection, config_id: str, keyring: KeyRing) -> CallbackConfig:
    return decode(repo.get_config(conn, config_id), keyring)


def list_configs(
    conn: Connection,
    keyring: KeyRing,
    *,
    project_ids: set[str] | None,
    project_id: str | None,
    after: str | None,
    limit: int,
    org_rules: bool = False,
) -> list[CallbackConfig]:
    records = repo.list_configs(
        conn,
        project_ids=project_ids,
        project_id=project_id,
        after=after,
        limit=limit,
        org_rules=org_rules,
    )
    return [decode(r, keyring) for r in records]


def insert_config(conn: Connection, config: CallbackConfig, keyring: KeyRing) -> None:
    repo.insert_config(conn, encode(config, keyring))


def replace_config(conn: Connection, config: CallbackConfig, keyring: KeyRing) -> None:
    repo.replace_config(conn, encode(config, keyring))


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
    loaded, broken = [], {}
    for record in repo.configs_by_id(conn, stale):
        try:
            loaded.append(decode(record, keyring))
        except SecretDecryptError:
            broken[record.id] = UNREADABLE
    return loaded, broken

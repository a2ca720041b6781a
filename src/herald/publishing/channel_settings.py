"""One channel's settings from what a caller sent: validated by its type, masked secrets sent
back resolved against the stored settings, the save-time egress check, its target key and
retry policy. Shared by inline channels of callback configs (`where` = "channels.0") and by
destinations (`where` = ""), so both answer the same errors for the same mistakes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from herald.channels.capabilities import OwnRetryPolicy
from herald.channels.channel_config import ChannelConfig, parse_channel_config
from herald.channels.config_base import marks
from herald.channels.credentials import (
    KeptSecretRefused,
    merge_masked,
    refuse_kept_secrets,
)
from herald.channels.registry import UnknownChannelType, get_sender
from herald.domain.errors import InvalidInput
from herald.domain.shapes import validation_message
from herald.security.egress import EgressDenied, EgressPolicy, check_url
from herald.security.encryption import fingerprint
from herald.security.guarded_socket import check_literal_host

# Target keys only group deliveries by the credential they go to; the credentials themselves are
# high-entropy tokens kept encrypted, so a fixed key is enough and survives key rotation.
TARGET_FINGERPRINT_KEY = b"herald target key v1"


def target_key(channel_type: str, config: ChannelConfig) -> str:
    identity = get_sender(channel_type).target_identity(config)
    return fingerprint(f"{channel_type}\n{identity}", TARGET_FINGERPRINT_KEY)


def destination_target_key(destination_id: str) -> str:
    """A destination is one target whatever its settings: its rate limits, circuit and health
    stay with it when its secret is rotated, and every config using it shares them."""
    return fingerprint(f"destination\n{destination_id}", TARGET_FINGERPRINT_KEY)


def channel_policy(config: ChannelConfig) -> dict[str, Any] | None:
    """The retry settings fan-out and workers need without decrypting the channel, for settings
    that carry their own (`OwnRetryPolicy`); None: Herald's schedule and timeout."""
    return config.delivery_policy() if isinstance(config, OwnRetryPolicy) else None


def field_name(where: str, *parts: str) -> str:
    return ".".join([where, *parts] if where else parts)


def check_egress(where: str, config: ChannelConfig, policy: EgressPolicy) -> None:
    """Refuse addresses that are obviously internal (IP literals, localhost) at save time.

    Only a first line: names are resolved, and checked, when a delivery connects.
    """
    for name, mark in marks(type(config)).urls:
        if getattr(config, name) is None:
            continue  # an optional URL (a channel's own proxy) not set
        try:
            if mark.schemes is None:
                check_literal_host(getattr(config, name), policy)
            else:
                check_url(getattr(config, name), policy, schemes=frozenset(mark.schemes))
        except EgressDenied as exc:
            field = field_name(where, "config", name)
            raise InvalidInput(f"{field}: {exc}", {"field": field}) from None


def resolve_settings(
    where: str,
    channel_type: str,
    raw: dict[str, Any],
    previous: tuple[str, ChannelConfig] | None,
) -> ChannelConfig:
    """The new settings, masked secrets resolved against the `previous` (type, settings)."""
    if previous is None or previous[0] != channel_type:
        return validate_settings(where, channel_type, dict(raw))
    merged = merge_masked(raw, previous[1])
    # Validate first: a broken URL is reported as such, and destinations compare as parsed.
    parsed = validate_settings(where, channel_type, merged.settings)
    try:
        refuse_kept_secrets(parsed, previous[1], merged.kept)
    except KeptSecretRefused as exc:
        details = [
            {
                "field": field_name(where, "config", field),
                "message": message,
                "type": "secret_not_kept",
            }
            for field, message in exc.problems
        ]
        first = details[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", details) from None
    return parsed


def validate_settings(where: str, channel_type: str, raw: dict[str, Any]) -> ChannelConfig:
    try:
        get_sender(channel_type)
        return parse_channel_config(channel_type, raw)
    except UnknownChannelType as exc:
        field = field_name(where, "type")
        raise InvalidInput(f"{field}: {exc}", {"field": field}) from None
    except ValidationError as exc:
        details = [
            {
                "field": field_name(where, "config", *map(str, err["loc"])),
                "message": validation_message(err),
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        first = details[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", details) from None

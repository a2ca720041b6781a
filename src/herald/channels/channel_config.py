"""Channel settings by type name (PRD §4.1 `config` objects), validated so a person can act on
errors, and the warnings worth a second look.

The API stores a channel as `{"id", "type", "enabled", "config": {...}}`; `parse_channel_config`
turns `config` into the registered type's settings model (a `ChannelConfig` subclass in the
platform's module) or raises pydantic's `ValidationError` with the field path. Unknown fields
are rejected so typos surface, and types are strict: `"3"` or `true` is not a number (3.0 is 3,
as in JSON). `load_channel_config` reads stored settings, letting through the rules that only
judge new input (see `herald.channels.fields`). Which values are secret, and how they are
masked, redacted and kept, is `herald.channels.credentials`; `host_warnings` flags unusual hosts
without refusing them (proxies, Lark and private deployments exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from herald.channels.config_base import ChannelConfig
from herald.channels.registry import UnknownChannelType, get_sender


def parse_channel_config(channel_type: str, config: Mapping[str, Any]) -> ChannelConfig:
    """Validate new settings `config` for `channel_type`, every rule applied.

    Raises `UnknownChannelType` for a type that is not registered and pydantic's
    `ValidationError` (locations relative to `config`) for invalid settings.
    """
    return get_sender(channel_type).config_model.model_validate(dict(config))


def load_channel_config(channel_type: str, config: Mapping[str, Any]) -> ChannelConfig:
    """Settings read back from the store: as `parse_channel_config`, without the rules that only
    judge new input, so configs saved before a rule existed still load."""
    model = get_sender(channel_type).config_model
    return model.model_validate(dict(config), context={"stored": True})


def host_warnings(config: ChannelConfig) -> list[str]:
    """Things worth a second look that are not errors, for types with `usual_hosts`: a
    destination on an unusual host for the platform, without the query parameter that carries
    its credential (`credential_param`), or without the path it should have (`path_hint`)."""
    usual = config.usual_hosts
    if not usual:
        return []
    field = config.destination_field
    parts = urlsplit(getattr(config, field))
    warnings = []
    if parts.hostname not in usual:
        warnings.append(
            f"{field} points at {parts.hostname}, not {' or '.join(usual)}: fine for a proxy "
            "or private deployment, otherwise check the URL"
        )
    param = config.credential_param
    if param and param not in dict(parse_qsl(parts.query)):
        warnings.append(f"{field} has no {param} parameter; the platform will reject it")
    hint = config.path_hint
    if hint and hint.contains not in parts.path:
        warnings.append(f"{field} is not {hint.what}")
    return warnings


__all__ = [
    "ChannelConfig",
    "UnknownChannelType",
    "host_warnings",
    "load_channel_config",
    "parse_channel_config",
]

"""Stored callback configs and channels as the rest of Herald sees them (secrets decrypted)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from herald.channels.channel_config import ChannelConfig
from herald.domain.subscriptions import Filters


@dataclass(frozen=True)
class Channel:
    id: str
    config_id: str
    position: int
    type: str
    enabled: bool
    config: ChannelConfig
    target_key: str
    rate_limit: dict[str, Any] | None
    policy: dict[str, Any] | None  # custom channels' retries, interval and timeout
    templates: dict[str, Any] | None
    updated_at: dt.datetime
    # Set: `config`, `type`, `target_key`, `rate_limit` and `policy` are the destination's.
    destination_id: str | None = None


@dataclass(frozen=True)
class CallbackConfig:
    id: str
    project_id: str | None  # None: an organisation rule (admins only)
    name: str
    enabled: bool
    events: tuple[str, ...]
    filters: Filters
    locale: str
    templates: dict[str, Any] | None
    channels: tuple[Channel, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    # Organisation rules: the labels a project must carry to be reached; None: every project.
    project_labels: dict[str, str] | None = None


@dataclass(frozen=True)
class Destination:
    """One channel instance defined once, referenced by any number of channels."""

    id: str
    project_id: str | None  # None: the organisation's, usable by every project
    name: str
    type: str
    config: ChannelConfig
    target_key: str
    rate_limit: dict[str, Any] | None
    policy: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime

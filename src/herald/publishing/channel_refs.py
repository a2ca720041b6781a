"""Channels that reference a destination instead of carrying settings: which destinations a
config may use, and the channel a reference stands for (the destination's type, settings,
target, rate limit and policy; the config's own `enabled` and templates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from herald.domain.errors import InvalidInput, NotFound
from herald.publishing.config_inputs import ChannelIn
from herald.publishing.config_model import Channel, Destination
from herald.publishing.stored_configs import decode_destination
from herald.security.encryption import KeyRing
from herald.store import destination_repo
from herald.store.db import Connection


def usable_by(destination: Destination, project_id: str | None) -> bool:
    """A project's config may use its project's destinations and the organisation's; an
    organisation rule only the organisation's."""
    return destination.project_id is None or destination.project_id == project_id


def load_destinations(
    conn: Connection, specs: Sequence[ChannelIn], project_id: str | None, keyring: KeyRing
) -> dict[str, Destination]:
    """The destinations the channels `specs` reference, checked usable by the config."""
    found: dict[str, Destination] = {}
    for position, spec in enumerate(specs):
        wanted = spec.destination_id
        if not wanted or wanted in found:
            continue
        field = f"channels.{position}.destination_id"
        try:
            destination = decode_destination(destination_repo.get(conn, wanted), keyring)
        except NotFound:
            raise InvalidInput(
                f"{field}: destination {wanted} does not exist", {"field": field}
            ) from None
        if not usable_by(destination, project_id):
            scope = "an organisation rule" if project_id is None else "this project's config"
            raise InvalidInput(
                f"{field}: destination {wanted} belongs to another project; {scope} may use "
                "its own project's destinations and the organisation's",
                {"field": field},
            )
        found[wanted] = destination
    return found


def reference(
    position: int,
    spec: ChannelIn,
    destination: Destination,
    config_id: str,
    channel_id: str,
    templates: dict[str, Any] | None,
    now: Any,
) -> Channel:
    """The channel for a reference; a `type` sent with it must be the destination's (`config`
    and `rate_limit` sent back as read are the destination's and are ignored)."""
    if spec.type is not None and spec.type != destination.type:
        field = f"channels.{position}.type"
        raise InvalidInput(
            f"{field}: destination {destination.id} is a {destination.type} destination, "
            f"not {spec.type}; leave type out of a reference",
            {"field": field},
        )
    return Channel(
        id=channel_id,
        config_id=config_id,
        position=position,
        type=destination.type,
        enabled=spec.enabled,
        config=destination.config,
        target_key=destination.target_key,
        rate_limit=destination.rate_limit,
        policy=destination.policy,
        templates=templates,
        updated_at=now,
        destination_id=destination.id,
    )

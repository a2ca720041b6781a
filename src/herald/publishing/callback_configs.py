"""Callback configuration use cases: validate per channel type, encrypt, audit every change.

Updates are PUT-style replacements. A channel keeps its id when the caller sends it back; a
secret sent back masked (as the API shows it) keeps the stored value, so clients can round-trip
a config they read without knowing its secrets — unless the channel's destination (scheme, host
or port of a URL) changed: then every masked secret is refused and must be entered again
(`herald.channels.credentials.refuse_kept_secrets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from herald.access.roles import Principal
from herald.channels.capabilities import OwnRetryPolicy
from herald.channels.channel_config import ChannelConfig, parse_channel_config
from herald.channels.credentials import (
    KeptSecretRefused,
    describe_target,
    destination_fields,
    hides_path,
    masked,
    merge_masked,
    refuse_kept_secrets,
)
from herald.channels.registry import UnknownChannelType, get_sender
from herald.domain.errors import InvalidInput
from herald.domain.ids import new_id
from herald.domain.shapes import validation_message
from herald.domain.subscriptions import Filters
from herald.publishing import stored_configs as store
from herald.publishing.config_inputs import ChannelIn, ConfigIn
from herald.publishing.config_model import CallbackConfig, Channel
from herald.publishing.templates import TemplateError, validate_templates
from herald.runtime.clock import Clock
from herald.security.egress import EgressDenied, EgressPolicy, check_url
from herald.security.encryption import KeyRing, fingerprint
from herald.store import audit_repo as audit
from herald.store import config_repo, project_repo
from herald.store.db import Database, UnitOfWork
from herald.store.delivery_state import cancel_pending_for_channels
from herald.store.fanout import ensure_targets

# Target keys only group deliveries by the credential they go to; the credentials themselves are
# high-entropy tokens kept encrypted, so a fixed key is enough and survives key rotation.
TARGET_FINGERPRINT_KEY = b"herald target key v1"


def target_key(channel_type: str, config: ChannelConfig) -> str:
    identity = get_sender(channel_type).target_identity(config)
    return fingerprint(f"{channel_type}\n{identity}", TARGET_FINGERPRINT_KEY)


def channel_policy(config: ChannelConfig) -> dict[str, Any] | None:
    """The retry settings fan-out and workers need without decrypting the channel, for settings
    that carry their own (`OwnRetryPolicy`); None: Herald's schedule and timeout."""
    return config.delivery_policy() if isinstance(config, OwnRetryPolicy) else None


def describe_config(config: CallbackConfig) -> dict[str, Any]:
    """A config as the API, the audit log and people may see it: secrets masked."""
    return {
        "id": config.id,
        "project_id": config.project_id,
        "name": config.name,
        "enabled": config.enabled,
        "events": list(config.events),
        "filters": config.filters.to_json(),
        "locale": config.locale,
        "templates": config.templates,
        "channels": [
            {
                "id": ch.id,
                "type": ch.type,
                "enabled": ch.enabled,
                "config": masked(ch.config),
                "rate_limit": ch.rate_limit,
                "templates": ch.templates,
            }
            for ch in config.channels
        ],
    }


def check_egress(position: int, config: ChannelConfig, policy: EgressPolicy) -> None:
    """Refuse addresses that are obviously internal (IP literals, localhost) at save time.

    Only a first line: names are resolved, and checked, when a delivery connects.
    """
    for name in destination_fields(config):
        try:
            check_url(getattr(config, name), policy)
        except EgressDenied as exc:
            field = f"channels.{position}.config.{name}"
            raise InvalidInput(f"{field}: {exc}", {"field": field}) from None


class CallbackService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        keyring: KeyRing,
        egress: EgressPolicy,
        default_locale: str = "zh",
    ) -> None:
        self.default_locale = default_locale
        self.db = db
        self.clock = clock
        self.keyring = keyring
        self.egress = egress

    def get(self, config_id: str) -> CallbackConfig:
        with self.db.read() as conn:
            return store.get_config(conn, config_id, self.keyring)

    def project_of(self, config_id: str) -> str:
        with self.db.read() as conn:
            return config_repo.config_project(conn, config_id)

    def configs(
        self, *, visible: set[str] | None, project_id: str | None, after: str | None, limit: int
    ) -> list[CallbackConfig]:
        with self.db.read() as conn:
            if project_id is not None:
                project_repo.get_project(conn, project_id)
            return store.list_configs(
                conn,
                self.keyring,
                project_ids=visible,
                project_id=project_id,
                after=after,
                limit=limit,
            )

    def create(self, project_id: str, body: ConfigIn, actor: Principal | None) -> CallbackConfig:
        config_id, now = new_id(), self.clock.now()
        channels = _build_channels(config_id, body.channels, {}, now, self.egress)
        config = _assemble(config_id, project_id, body, channels, now, now, self.default_locale)
        with self.db.transaction() as uow:
            project_repo.get_project(uow.conn, project_id)
            store.insert_config(uow.conn, config, self.keyring)
            _register_targets(uow, channels, now)
            self._audit(uow, actor, "callback.create", config, None)
        return config

    def draft(self, project_id: str, body: ConfigIn, base: CallbackConfig | None) -> CallbackConfig:
        """`body` validated into a config exactly as `create`/`update` would, without storing it
        (masked secrets sent back resolve against `base`)."""
        now = self.clock.now()
        config_id = base.id if base else "draft"
        existing = {ch.id: ch for ch in base.channels} if base else {}
        channels = _build_channels(config_id, body.channels, existing, now, self.egress)
        return _assemble(config_id, project_id, body, channels, now, now, self.default_locale)

    def update(self, config_id: str, body: ConfigIn, actor: Principal | None) -> CallbackConfig:
        now = self.clock.now()
        with self.db.transaction() as uow:
            before = store.get_config(uow.conn, config_id, self.keyring)
            existing = {ch.id: ch for ch in before.channels}
            channels = _build_channels(config_id, body.channels, existing, now, self.egress)
            config = _assemble(
                config_id,
                before.project_id,
                body,
                channels,
                before.created_at,
                now,
                self.default_locale,
            )
            store.replace_config(uow.conn, config, self.keyring)
            _register_targets(uow, channels, now)
            removed = set(existing) - {ch.id for ch in channels}
            cancel_pending_for_channels(
                uow.conn, config_id, removed, "channel removed from the config", now
            )
            self._audit(uow, actor, "callback.update", config, before)
        return config

    def delete(self, config_id: str, actor: Principal | None) -> None:
        now = self.clock.now()
        with self.db.transaction() as uow:
            before = store.get_config(uow.conn, config_id, self.keyring)
            config_repo.delete_config(uow.conn, config_id)
            every = {ch.id for ch in before.channels}
            cancel_pending_for_channels(uow.conn, config_id, every, "callback config deleted", now)
            self._audit(uow, actor, "callback.delete", None, before)

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Principal | None,
        action: str,
        after: CallbackConfig | None,
        before: CallbackConfig | None,
    ) -> None:
        subject = after or before
        assert subject is not None
        audit.record(
            uow.conn,
            actor,
            action=action,
            resource_type="callback_config",
            resource_id=subject.id,
            project_id=subject.project_id,
            before=describe_config(before) if before else None,
            after=describe_config(after) if after else None,
            at=self.clock.now(),
        )


def _register_targets(uow: UnitOfWork, channels: Sequence[Channel], now: Any) -> None:
    """Create the channels' target rows; a target row is shared and described once, so the
    description of a URL marked `secret_url` is masked again even if the row came first."""
    described = [(ch.target_key, ch.type, describe_target(ch.config)) for ch in channels]
    ensure_targets(uow.conn, described, now)
    hidden = [
        (key, description)
        for ch, (key, _, description) in zip(channels, described, strict=True)
        if hides_path(ch.config)
    ]
    config_repo.hide_target_paths(uow.conn, hidden)


def _assemble(
    config_id: str,
    project_id: str,
    body: ConfigIn,
    channels: Sequence[Channel],
    created_at: Any,
    updated_at: Any,
    default_locale: str,
) -> CallbackConfig:
    filters = body.filters
    return CallbackConfig(
        id=config_id,
        project_id=project_id,
        name=body.name,
        enabled=body.enabled,
        events=tuple(dict.fromkeys(e.value for e in body.events)),
        filters=Filters(
            environments=tuple(filters.environments),
            task_types=tuple(t.value for t in filters.task_types),
            strategies=tuple(s.value for s in filters.strategies),
        ),
        locale=body.locale or default_locale,
        templates=_templates(body.templates, "templates"),
        channels=tuple(channels),
        created_at=created_at,
        updated_at=updated_at,
    )


def _templates(raw: Any, prefix: str) -> dict[str, Any] | None:
    """Templates as stored, after checking they parse, stay in the sandbox and render."""
    if not raw:
        return None
    templates = {k: v.model_dump(exclude_none=True) for k, v in raw.items()}
    try:
        validate_templates(templates, prefix)
    except TemplateError as exc:
        raise InvalidInput(str(exc), {"field": exc.key}) from None
    return templates


def _build_channels(
    config_id: str,
    incoming: Sequence[ChannelIn],
    existing: dict[str, Channel],
    now: Any,
    egress: EgressPolicy,
) -> list[Channel]:
    channels = []
    for position, spec in enumerate(incoming):
        if spec.id is not None and spec.id not in existing:
            raise InvalidInput(
                f"channels.{position}.id: channel {spec.id} is not part of this config; "
                "leave id out to add a new channel",
                {"field": f"channels.{position}.id"},
            )
        previous = existing.get(spec.id) if spec.id else None
        parsed = _parse(position, spec, previous)
        check_egress(position, parsed, egress)
        channels.append(
            Channel(
                id=spec.id or new_id(),
                config_id=config_id,
                position=position,
                type=spec.type,
                enabled=spec.enabled,
                config=parsed,
                target_key=target_key(spec.type, parsed),
                rate_limit=spec.rate_limit.model_dump() if spec.rate_limit else None,
                policy=channel_policy(parsed),
                templates=_templates(spec.templates, f"channels.{position}.templates"),
                updated_at=now,
            )
        )
    return channels


def _parse(position: int, spec: ChannelIn, previous: Channel | None) -> ChannelConfig:
    """The channel's new settings, masked secrets resolved against the `previous` channel's."""
    if previous is None or previous.type != spec.type:
        return _validate(position, spec.type, dict(spec.config))
    merged = merge_masked(spec.config, previous.config)
    # Validate first: a broken URL is reported as such, and destinations compare as parsed.
    parsed = _validate(position, spec.type, merged.settings)
    try:
        refuse_kept_secrets(parsed, previous.config, merged.kept)
    except KeptSecretRefused as exc:
        details = [
            {
                "field": f"channels.{position}.config.{field}",
                "message": message,
                "type": "secret_not_kept",
            }
            for field, message in exc.problems
        ]
        first = details[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", details) from None
    return parsed


def _validate(position: int, channel_type: str, raw: dict[str, Any]) -> ChannelConfig:
    try:
        get_sender(channel_type)
        return parse_channel_config(channel_type, raw)
    except UnknownChannelType as exc:
        raise InvalidInput(
            f"channels.{position}.type: {exc}", {"field": f"channels.{position}.type"}
        ) from None
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(["channels", str(position), "config", *map(str, err["loc"])]),
                "message": validation_message(err),
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        first = details[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", details) from None

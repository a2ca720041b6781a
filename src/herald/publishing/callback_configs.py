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

from herald.access.roles import Principal
from herald.channels.credentials import describe_target, hides_path, masked
from herald.domain.errors import InvalidInput
from herald.domain.ids import new_id
from herald.domain.subscriptions import Filters, reaches_project
from herald.publishing import stored_configs as store
from herald.publishing.channel_refs import load_destinations, reference
from herald.publishing.channel_settings import (
    channel_policy,
    check_egress,
    resolve_settings,
    target_key,
)
from herald.publishing.config_inputs import ChannelIn, ConfigIn
from herald.publishing.config_model import CallbackConfig, Channel, Destination
from herald.publishing.templates import TemplateError, validate_templates
from herald.runtime.clock import Clock
from herald.security.egress import EgressPolicy
from herald.security.encryption import KeyRing
from herald.store import audit_repo as audit
from herald.store import config_repo, project_repo
from herald.store.db import Connection, Database, UnitOfWork
from herald.store.delivery_state import cancel_pending_for_channels
from herald.store.fanout import ensure_targets

MAX_ORG_RULES = 1000  # read at once to tell a project which rules reach it


def describe_config(config: CallbackConfig) -> dict[str, Any]:
    """A config as the API, the audit log and people may see it: secrets masked."""
    view: dict[str, Any] = {
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
                **({"destination_id": ch.destination_id} if ch.destination_id else {}),
            }
            for ch in config.channels
        ],
    }
    if config.project_id is None:
        view["project_labels"] = config.project_labels
    return view


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

    def project_of(self, config_id: str) -> str | None:
        """The config's project; None for an organisation rule."""
        with self.db.read() as conn:
            return config_repo.config_project(conn, config_id)

    def configs(
        self,
        *,
        visible: set[str] | None,
        project_id: str | None,
        after: str | None,
        limit: int,
        org_rules: bool = False,
    ) -> list[CallbackConfig]:
        """`org_rules`: only the organisation rules."""
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
                org_rules=org_rules,
            )

    def rules_reaching(self, project_id: str) -> list[CallbackConfig]:
        """The organisation rules whose label selector reaches the project (enabled or not)."""
        with self.db.read() as conn:
            labels = project_repo.get_project(conn, project_id).labels
            rules = store.list_configs(
                conn,
                self.keyring,
                project_ids=None,
                project_id=None,
                after=None,
                limit=MAX_ORG_RULES,
                org_rules=True,
            )
        return [r for r in rules if reaches_project(r.project_labels, labels)]

    def create(
        self, project_id: str | None, body: ConfigIn, actor: Principal | None
    ) -> CallbackConfig:
        """A project's config, or with `project_id` None an organisation rule."""
        config_id, now = new_id(), self.clock.now()
        with self.db.transaction() as uow:
            if project_id is not None:
                project_repo.get_project(uow.conn, project_id)
            config = self._build(uow.conn, config_id, project_id, body, None, now)
            store.insert_config(uow.conn, config, self.keyring)
            _register_targets(uow, config.channels, now)
            self._audit(uow, actor, "callback.create", config, None)
        return config

    def draft(
        self, project_id: str | None, body: ConfigIn, base: CallbackConfig | None
    ) -> CallbackConfig:
        """`body` validated into a config exactly as `create`/`update` would, without storing it
        (masked secrets sent back resolve against `base`)."""
        with self.db.read() as conn:
            config_id = base.id if base else "draft"
            return self._build(conn, config_id, project_id, body, base, self.clock.now())

    def update(self, config_id: str, body: ConfigIn, actor: Principal | None) -> CallbackConfig:
        now = self.clock.now()
        with self.db.transaction() as uow:
            before = store.get_config(uow.conn, config_id, self.keyring)
            config = self._build(uow.conn, config_id, before.project_id, body, before, now)
            store.replace_config(uow.conn, config, self.keyring)
            _register_targets(uow, config.channels, now)
            removed = {ch.id for ch in before.channels} - {ch.id for ch in config.channels}
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

    def _build(
        self,
        conn: Connection,
        config_id: str,
        project_id: str | None,
        body: ConfigIn,
        base: CallbackConfig | None,
        now: Any,
    ) -> CallbackConfig:
        if project_id is not None and body.project_labels is not None:
            raise InvalidInput(
                "project_labels: only organisation rules select projects by label; "
                "leave it out for a project's config",
                {"field": "project_labels"},
            )
        found = load_destinations(conn, body.channels, project_id, self.keyring)
        existing = {ch.id: ch for ch in base.channels} if base else {}
        channels = _build_channels(config_id, body.channels, existing, found, now, self.egress)
        created = base.created_at if base else now
        return _assemble(config_id, project_id, body, channels, created, now, self.default_locale)

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
    project_id: str | None,
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
        project_labels=dict(body.project_labels) if body.project_labels is not None else None,
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
    destinations: dict[str, Destination],
    now: Any,
    egress: EgressPolicy,
) -> list[Channel]:
    channels = []
    for position, spec in enumerate(incoming):
        where = f"channels.{position}"
        if spec.id is not None and spec.id not in existing:
            raise InvalidInput(
                f"{where}.id: channel {spec.id} is not part of this config; "
                "leave id out to add a new channel",
                {"field": f"{where}.id"},
            )
        templates = _templates(spec.templates, f"{where}.templates")
        channel_id = spec.id or new_id()
        if spec.destination_id:
            destination = destinations[spec.destination_id]
            channels.append(
                reference(position, spec, destination, config_id, channel_id, templates, now)
            )
            continue
        previous = existing.get(spec.id) if spec.id else None
        assert spec.type is not None
        assert spec.config is not None
        kept = (
            (previous.type, previous.config) if previous and not previous.destination_id else None
        )
        parsed = resolve_settings(where, spec.type, spec.config, kept)
        check_egress(where, parsed, egress)
        channels.append(
            Channel(
                id=channel_id,
                config_id=config_id,
                position=position,
                type=spec.type,
                enabled=spec.enabled,
                config=parsed,
                target_key=target_key(spec.type, parsed),
                rate_limit=spec.rate_limit.model_dump() if spec.rate_limit else None,
                policy=channel_policy(parsed),
                templates=templates,
                updated_at=now,
            )
        )
    return channels

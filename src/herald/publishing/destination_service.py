"""Destinations: one channel instance defined once, for a project or for the organisation, and
referenced by any number of callback configs.

Saving one validates and encrypts its settings exactly as an inline channel's (same checks,
same masked-secret rule: a changed scheme, host or port needs every secret again). An edit
reaches every referencing config from its next delivery (`destination_repo.propagate`), and
the destination is one target: its rate limits, circuit and health are shared by all of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from herald.access.roles import Principal
from herald.channels.credentials import describe_target, masked
from herald.channels.registry import get_sender
from herald.domain.errors import Conflict, InvalidInput
from herald.domain.ids import new_id
from herald.publishing import stored_configs as codec
from herald.publishing.channel_settings import (
    channel_policy,
    check_egress,
    destination_target_key,
    resolve_settings,
)
from herald.publishing.config_model import Destination
from herald.publishing.destination_inputs import DestinationIn
from herald.runtime.clock import Clock
from herald.security.egress import EgressPolicy
from herald.security.encryption import KeyRing
from herald.store import audit_repo as audit
from herald.store import config_repo, destination_repo, project_repo
from herald.store.db import Database, UnitOfWork
from herald.store.destination_repo import DestinationUse as DestinationUse  # re-exported
from herald.store.destination_repo import TargetHealth
from herald.store.fanout import ensure_targets


@dataclass(frozen=True)
class LimitUse:
    count: int
    per_seconds: float
    used: int  # sends within the last `per_seconds`


@dataclass(frozen=True)
class DestinationHealth:
    circuit: str
    consecutive_failures: int
    probe_at: dt.datetime | None
    penalty_until: dt.datetime | None
    rate_limits: tuple[LimitUse, ...]
    pending: int
    last_outcome: str | None
    last_code: str | None
    last_at: dt.datetime | None
    last_error: str | None


def describe_destination(destination: Destination) -> dict[str, Any]:
    """As the API and the audit log show it: secrets masked."""
    return {
        "id": destination.id,
        "project_id": destination.project_id,
        "name": destination.name,
        "type": destination.type,
        "config": masked(destination.config),
        "rate_limit": destination.rate_limit,
    }


class DestinationService:
    def __init__(self, db: Database, clock: Clock, keyring: KeyRing, egress: EgressPolicy) -> None:
        self.db = db
        self.clock = clock
        self.keyring = keyring
        self.egress = egress

    def get(self, destination_id: str) -> Destination:
        with self.db.read() as conn:
            return codec.decode_destination(
                destination_repo.get(conn, destination_id), self.keyring
            )

    def project_of(self, destination_id: str) -> str | None:
        return self.get(destination_id).project_id

    def listed(
        self, project_id: str | None, after: str | None, limit: int, include_org: bool = False
    ) -> list[Destination]:
        """The project's destinations (with `include_org`, also the organisation's, which its
        configs may use), or the organisation's when `project_id` is None."""
        with self.db.read() as conn:
            if project_id is not None:
                project_repo.get_project(conn, project_id)
            records = destination_repo.list_for(
                conn, project_id=project_id, after=after, limit=limit, include_org=include_org
            )
            return [codec.decode_destination(r, self.keyring) for r in records]

    def uses(self, destination_ids: list[str]) -> dict[str, list[DestinationUse]]:
        with self.db.read() as conn:
            return destination_repo.uses(conn, destination_ids)

    def create(
        self, project_id: str | None, body: DestinationIn, actor: Principal | None
    ) -> Destination:
        now, destination_id = self.clock.now(), new_id()
        config = resolve_settings("", body.type, body.config, None)
        check_egress("", config, self.egress)
        destination = Destination(
            id=destination_id,
            project_id=project_id,
            name=body.name,
            type=body.type,
            config=config,
            target_key=destination_target_key(destination_id),
            rate_limit=body.rate_limit.model_dump() if body.rate_limit else None,
            policy=channel_policy(config),
            created_at=now,
            updated_at=now,
        )
        with self.db.transaction() as uow:
            if project_id is not None:
                project_repo.get_project(uow.conn, project_id)
            destination_repo.insert(uow.conn, codec.encode_destination(destination, self.keyring))
            self._describe_target(uow, destination)
            self._audit(uow, actor, "destination.create", destination, None)
        return destination

    def update(
        self, destination_id: str, body: DestinationIn, actor: Principal | None
    ) -> Destination:
        """Replace the settings; every referencing config sends with them from its next
        delivery."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            record = destination_repo.get(uow.conn, destination_id)
            before = codec.decode_destination(record, self.keyring)
            if body.type != before.type:
                raise InvalidInput(
                    f"type: a destination's type cannot change ({before.type}); create a new "
                    "destination and point the configs at it",
                    {"field": "type"},
                )
            config = resolve_settings("", body.type, body.config, (before.type, before.config))
            check_egress("", config, self.egress)
            after = Destination(
                id=before.id,
                project_id=before.project_id,
                name=body.name,
                type=before.type,
                config=config,
                target_key=before.target_key,
                rate_limit=body.rate_limit.model_dump() if body.rate_limit else None,
                policy=channel_policy(config),
                created_at=before.created_at,
                updated_at=now,
            )
            stored = codec.encode_destination(after, self.keyring)
            destination_repo.update(uow.conn, stored)
            destination_repo.propagate(uow.conn, stored, now)
            self._describe_target(uow, after)
            self._audit(uow, actor, "destination.update", after, before)
        return after

    def delete(self, destination_id: str, actor: Principal | None) -> None:
        """Refused (409, naming them) while configs use the destination."""
        with self.db.transaction() as uow:
            before = codec.decode_destination(
                destination_repo.get(uow.conn, destination_id), self.keyring
            )
            users = destination_repo.uses(uow.conn, [destination_id])[destination_id]
            if users:
                configs = sorted({u.config_id for u in users})
                raise Conflict(
                    f"destination {destination_id} is used by {len(configs)} callback config(s): "
                    f"{', '.join(configs)}; point them elsewhere first",
                    {"destination_id": destination_id, "configs": configs},
                )
            destination_repo.delete(uow.conn, destination_id)
            self._audit(uow, actor, "destination.delete", None, before)

    def health(self, destination: Destination) -> DestinationHealth:
        with self.db.read() as conn:
            state = destination_repo.health(conn, destination.target_key)
        return _health(destination, state, self.clock.time())

    def _describe_target(self, uow: UnitOfWork, destination: Destination) -> None:
        description = f"{destination.name}: {describe_target(destination.config)}"
        row = (destination.target_key, destination.type, description)
        ensure_targets(uow.conn, [row], destination.updated_at)
        config_repo.hide_target_paths(uow.conn, [(destination.target_key, description)])

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Principal | None,
        action: str,
        after: Destination | None,
        before: Destination | None,
    ) -> None:
        subject = after or before
        assert subject is not None
        audit.record(
            uow.conn,
            actor,
            action=action,
            resource_type="destination",
            resource_id=subject.id,
            project_id=subject.project_id,
            before=describe_destination(before) if before else None,
            after=describe_destination(after) if after else None,
            at=self.clock.now(),
        )


def _instant(unix_seconds: float | None) -> dt.datetime | None:
    return None if unix_seconds is None else dt.datetime.fromtimestamp(unix_seconds, dt.UTC)


def _health(destination: Destination, state: TargetHealth, now: float) -> DestinationHealth:
    if destination.rate_limit:
        limits = [
            (int(destination.rate_limit["count"]), float(destination.rate_limit["per_seconds"]))
        ]
    else:
        limits = [
            (r.count, r.per_seconds) for r in get_sender(destination.type).default_rate_limits
        ]
    penalty = state.penalty_until if state.penalty_until and state.penalty_until > now else None
    return DestinationHealth(
        circuit=state.circuit,
        consecutive_failures=state.failures,
        probe_at=_instant(state.probe_at),
        penalty_until=_instant(penalty),
        rate_limits=tuple(
            LimitUse(count, per, sum(1 for t in state.sends if t > now - per))
            for count, per in limits
        ),
        pending=state.pending,
        last_outcome=state.last_outcome,
        last_code=state.last_code,
        last_at=state.last_at,
        last_error=state.last_error,
    )

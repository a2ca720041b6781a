"""Persistence of destinations: one channel instance (type and settings, encrypted as one token
by `herald.publishing.stored_configs`) per project or for the organisation (project NULL), that
callback channels reference. A referencing channel row keeps copies of what fan-out and claims
read without decrypting (type, target key, rate limit, policy); `propagate` refreshes them and
moves the referencing configs' `updated_at`, so workers reload their settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryStatus
from herald.domain.errors import Conflict, missing
from herald.store.tables import (
    callback_channels,
    callback_configs,
    deliveries,
    destinations,
    targets,
)


@dataclass(frozen=True)
class DestinationRecord:
    id: str
    project_id: str | None  # None: the organisation's
    name: str
    type: str
    secret_config: str  # the settings, encrypted
    target_key: str
    rate_limit: dict[str, Any] | None
    policy: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class DestinationUse:
    """One channel of one config that sends to the destination."""

    destination_id: str
    config_id: str
    config_name: str
    project_id: str | None  # the config's; None: an organisation rule
    channel_id: str


@dataclass(frozen=True)
class TargetHealth:
    """The destination's shared target row, and its latest finished delivery."""

    sends: tuple[float, ...]  # recent send times (Unix s)
    penalty_until: float | None
    circuit: str
    failures: int
    probe_at: float | None
    last_error: str | None
    last_outcome: str | None
    last_code: str | None
    last_at: dt.datetime | None
    pending: int


def _record(row: Any) -> DestinationRecord:
    return DestinationRecord(**{c.name: row._mapping[c.name] for c in destinations.c})


def get(conn: Connection, destination_id: str) -> DestinationRecord:
    row = conn.execute(sa.select(destinations).where(destinations.c.id == destination_id)).first()
    if row is None:
        raise missing("destination", "destination_id", destination_id)
    return _record(row)


def list_for(
    conn: Connection,
    *,
    project_id: str | None,
    after: str | None,
    limit: int,
    include_org: bool = False,
) -> list[DestinationRecord]:
    """The project's destinations (and with `include_org` the organisation's too, in one id
    order), or the organisation's when `project_id` is None."""
    d = destinations.c
    scope = d.project_id.is_(None) if project_id is None else d.project_id == project_id
    if include_org:
        scope = sa.or_(scope, d.project_id.is_(None))
    query = sa.select(destinations).where(scope).order_by(d.id).limit(limit)
    if after:
        query = query.where(d.id > after)
    return [_record(r) for r in conn.execute(query)]


def _refuse_taken_name(conn: Connection, record: DestinationRecord) -> None:
    d = destinations.c
    scope = (
        d.project_id.is_(None) if record.project_id is None else d.project_id == record.project_id
    )
    clash = conn.execute(
        sa.select(d.id).where(scope, d.name == record.name, d.id != record.id)
    ).first()
    if clash:
        where = "the organisation" if record.project_id is None else f"project {record.project_id}"
        raise Conflict(
            f"{where} already has a destination named {record.name!r}", {"name": record.name}
        )


def insert(conn: Connection, record: DestinationRecord) -> None:
    _refuse_taken_name(conn, record)
    conn.execute(destinations.insert().values(**asdict(record)))


def update(conn: Connection, record: DestinationRecord) -> None:
    _refuse_taken_name(conn, record)
    values = {k: v for k, v in asdict(record).items() if k not in ("id", "created_at")}
    conn.execute(destinations.update().where(destinations.c.id == record.id).values(**values))


def delete(conn: Connection, destination_id: str) -> None:
    conn.execute(destinations.delete().where(destinations.c.id == destination_id))


def uses(conn: Connection, destination_ids: Sequence[str]) -> dict[str, list[DestinationUse]]:
    """Per destination, the channels referencing it, by config id."""
    ch, cfg = callback_channels.c, callback_configs.c
    found: dict[str, list[DestinationUse]] = {d: [] for d in destination_ids}
    if not destination_ids:
        return found
    query = (
        sa.select(ch.destination_id, ch.config_id, cfg.name, cfg.project_id, ch.id)
        .join(callback_configs, cfg.id == ch.config_id)
        .where(ch.destination_id.in_(list(destination_ids)))
        .order_by(ch.config_id, ch.position)
    )
    for row in conn.execute(query):
        found[row.destination_id].append(DestinationUse(*row))
    return found


def propagate(conn: Connection, record: DestinationRecord, now: dt.datetime) -> None:
    """Copy what fan-out and claims read onto the referencing channels, and mark their configs
    changed so every worker decrypts the new settings before its next delivery."""
    ch = callback_channels.c
    conn.execute(
        callback_channels.update()
        .where(ch.destination_id == record.id)
        .values(
            type=record.type,
            target_key=record.target_key,
            rate_limit=record.rate_limit,
            policy=record.policy,
            updated_at=now,
        )
    )
    users = sa.select(ch.config_id).where(ch.destination_id == record.id)
    conn.execute(
        callback_configs.update().where(callback_configs.c.id.in_(users)).values(updated_at=now)
    )


def health(conn: Connection, target_key: str) -> TargetHealth:
    t, d = targets.c, deliveries.c
    row = conn.execute(sa.select(targets).where(t.key == target_key)).first()
    last = conn.execute(
        sa.select(d.last_outcome, d.last_code, d.finished_at)
        .where(d.target_key == target_key, d.finished_at.is_not(None))
        .order_by(d.finished_at.desc())
        .limit(1)
    ).first()
    pending = conn.execute(
        sa.select(sa.func.count()).where(
            d.target_key == target_key, d.status == DeliveryStatus.PENDING
        )
    ).scalar_one()
    return TargetHealth(
        sends=tuple(row.sends) if row else (),
        penalty_until=row.penalty_until if row else None,
        circuit=row.circuit if row else "closed",
        failures=row.failures if row else 0,
        probe_at=row.probe_at if row else None,
        last_error=row.last_error if row else None,
        last_outcome=last.last_outcome if last else None,
        last_code=last.last_code if last else None,
        last_at=last.finished_at if last else None,
        pending=int(pending),
    )

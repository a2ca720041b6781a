"""Deliveries: fan-out from the outbox, and housekeeping the config service needs.

Fan-out turns each new event into one delivery per subscribed, enabled channel. Two workers
racing over the same events cannot double it: on PostgreSQL they lock disjoint events
(SKIP LOCKED), and the unique (event_id, channel_id) constraint backs that up everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryKind, DeliveryStatus, Trigger
from herald.domain.ids import new_id
from herald.domain.subscriptions import Filters, reaches_project, subscribed
from herald.store.dialect import BatchInsert, insert_ignoring_duplicates, lock_rows
from herald.store.tables import (
    callback_channels,
    callback_configs,
    deliveries,
    events,
    projects,
    targets,
    tasks,
)

DELIVERIES_CHANNEL = "herald_deliveries"
_DELIVERY_COLUMNS = (
    "id",
    "kind",
    "event_id",
    "config_id",
    "channel_id",
    "project_id",
    "task_id",
    "event_type",
    "channel_type",
    "target_key",
    "status",
    "attempts",
    "max_attempts",
    "trigger",
    "next_attempt_at",
    "seq",
    "created_at",
    "updated_at",
)
# Every row `_delivery_row` makes, in one executemany; a clash on (event, channel) is skipped.
_INSERT_DELIVERIES = BatchInsert(deliveries, _DELIVERY_COLUMNS, ignore=("event_id", "channel_id"))
_NOTIFY_DELIVERIES = sa.select(sa.func.pg_notify(DELIVERIES_CHANNEL, ""))


def ensure_targets(
    conn: Connection, rows: Iterable[tuple[str, str, str]], now: dt.datetime
) -> None:
    """Create the shared state row of each (key, channel type, description) target if missing."""
    values = [
        {
            "key": key,
            "channel_type": kind,
            "description": description,
            "sends": [],
            "updated_at": now,
        }
        for key, kind, description in {r[0]: r for r in rows}.values()
    ]
    insert_ignoring_duplicates(conn, targets, values, ["key"])


def fan_out(conn: Connection, now: dt.datetime, default_attempts: int, limit: int = 500) -> int:
    """Create deliveries for up to `limit` events not yet fanned out; return how many."""
    # What filters match on comes from the task row, so the payload JSON is not decoded here.
    query = lock_rows(
        sa.select(
            events.c.id,
            events.c.project_id,
            events.c.task_id,
            events.c.event_type,
            events.c.seq,
            tasks.c.environment,
            tasks.c.type,
            tasks.c.strategy,
        )
        .join(tasks, tasks.c.id == events.c.task_id)
        .where(events.c.fanned_out_at.is_(None))
        .order_by(events.c.created_at)
        .limit(limit),
        conn,
        skip_locked=True,
        of=events,
    )
    pending = conn.execute(query).all()
    if not pending:
        return 0
    channels = _subscriptions(conn, {e.project_id for e in pending})
    rows = [
        _delivery_row(event, channel, now, default_attempts)
        for event in pending
        for channel in channels.get(event.project_id, [])
        if subscribed(True, channel.events, Filters.from_json(channel.filters), _facts(event))
    ]
    created = _INSERT_DELIVERIES.execute(conn, rows)
    conn.execute(
        events.update().where(events.c.id.in_([e.id for e in pending])).values(fanned_out_at=now)
    )
    return created


def notify_other_workers(conn: Connection) -> None:
    """On PostgreSQL, wake listening workers (on commit) for deliveries this one leaves."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY_DELIVERIES)


def _facts(event: Any) -> dict[str, Any]:
    """The parts of the standard message that subscriptions and filters look at."""
    return {
        "event_type": event.event_type,
        "environment": event.environment,
        "task": {"type": event.type, "strategy": event.strategy},
    }


def _subscriptions(conn: Connection, project_ids: set[str]) -> dict[str | None, list[Any]]:
    """Per project, the enabled channels of its own configs, then of the organisation rules
    whose label selector reaches it."""
    by_project = _project_channels(conn, callback_configs.c.project_id.in_(sorted(project_ids)))
    org_rules = _project_channels(conn, callback_configs.c.project_id.is_(None)).get(None, [])
    if org_rules:
        labels = conn.execute(
            sa.select(projects.c.id, projects.c.labels).where(
                projects.c.id.in_(sorted(project_ids))
            )
        )
        for project_id, project_labels in labels:
            reaching = [
                ch for ch in org_rules if reaches_project(ch.project_labels, project_labels)
            ]
            by_project.setdefault(project_id, []).extend(reaching)
    return by_project


def _project_channels(conn: Connection, scope: Any) -> dict[str | None, list[Any]]:
    query = (
        sa.select(
            callback_channels.c.id,
            callback_channels.c.config_id,
            callback_channels.c.type,
            callback_channels.c.target_key,
            callback_channels.c.policy,
            callback_configs.c.project_id,
            callback_configs.c.events,
            callback_configs.c.filters,
            callback_configs.c.project_labels,
        )
        .join(callback_configs, callback_channels.c.config_id == callback_configs.c.id)
        .where(
            scope,
            callback_configs.c.enabled.is_(True),
            callback_channels.c.enabled.is_(True),
        )
        .order_by(callback_configs.c.id, callback_channels.c.position)
    )
    by_project: dict[str | None, list[Any]] = {}
    for row in conn.execute(query):
        by_project.setdefault(row.project_id, []).append(row)
    return by_project


def max_attempts(policy: dict[str, Any] | None, default_attempts: int) -> int:
    if policy and "retries" in policy:
        return int(policy["retries"]) + 1
    return default_attempts


def is_ordered(policy: dict[str, Any] | None) -> bool:
    """Whether a channel's deliveries keep their task's event order (all but custom channels
    that opted out)."""
    return bool((policy or {}).get("ordered", True))


def _delivery_row(
    event: Any, channel: Any, now: dt.datetime, default_attempts: int
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "kind": DeliveryKind.EVENT,
        "event_id": event.id,
        "config_id": channel.config_id,
        "channel_id": channel.id,
        "project_id": event.project_id,
        "task_id": event.task_id,
        "event_type": event.event_type,
        "channel_type": channel.type,
        "target_key": channel.target_key,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts(channel.policy, default_attempts),
        "trigger": Trigger.SCHEDULED,
        "next_attempt_at": now,
        "seq": event.seq if is_ordered(channel.policy) else None,
        "created_at": now,
        "updated_at": now,
    }

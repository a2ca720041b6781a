"""History retention: delete finished deliveries (and their attempt rows) past a project's
maximum age or beyond its newest `max_count`, one bounded batch per transaction.

Only finished deliveries (success, failed) are ever pruned; pending ones wait for their worker.
Each batch selects at most `batch` deliveries through an index (`finished_at` for age, the
existing (project_id, id) for counts) and deletes them with their attempts, so a transaction
holds its locks — on SQLite, the single writer lock — for a bounded time and deliveries keep
flowing between batches. On PostgreSQL the rows are taken with SKIP LOCKED, so two workers
pruning at once share the work instead of waiting for each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from herald.domain.delivery import DeliveryStatus
from herald.store.dialect import lock_rows
from herald.store.tables import deliveries, delivery_attempts, projects

_d = deliveries.c
Step = Callable[[Connection], int]
"""One batch of pruning in the caller's transaction; returns how many deliveries it deleted."""
_FINISHED = (DeliveryStatus.SUCCESS.value, DeliveryStatus.FAILED.value)


def project_ids(conn: Connection) -> dict[str, str]:
    """Every project's name → id (retention overrides may name a project either way)."""
    return {row.name: row.id for row in conn.execute(sa.select(projects.c.id, projects.c.name))}


def prune_older_than(
    conn: Connection,
    cutoff: dt.datetime,
    batch: int,
    *,
    only: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> int:
    """Delete up to `batch` deliveries that finished before `cutoff` (in the projects `only`
    names, or all but `exclude`); return how many."""
    query = (
        sa.select(_d.id)
        .where(_d.finished_at < cutoff, _d.status.in_(_FINISHED))
        .order_by(_d.finished_at)
        .limit(batch)
    )
    if only is not None:
        query = query.where(_d.project_id.in_(list(only)))
    if exclude:
        query = query.where(_d.project_id.not_in(list(exclude)))
    return _delete(conn, query)


def prune_beyond_count(conn: Connection, project_id: str, keep: int, batch: int) -> int:
    """Delete up to `batch` finished deliveries of `project_id` older than its newest `keep`
    deliveries (pending ones count towards `keep` but are never deleted); return how many."""
    boundary = conn.execute(
        sa.select(_d.id)
        .where(_d.project_id == project_id)
        .order_by(_d.id.desc())
        .offset(keep)
        .limit(1)
    ).scalar()
    if boundary is None:
        return 0
    query = (
        sa.select(_d.id)
        .where(_d.project_id == project_id, _d.id <= boundary, _d.status.in_(_FINISHED))
        .order_by(_d.id)
        .limit(batch)
    )
    return _delete(conn, query)


def _delete(conn: Connection, query: sa.Select[tuple[str]]) -> int:
    ids = list(conn.execute(lock_rows(query, conn, skip_locked=True)).scalars())
    if not ids:
        return 0
    conn.execute(delivery_attempts.delete().where(delivery_attempts.c.delivery_id.in_(ids)))
    conn.execute(deliveries.delete().where(_d.id.in_(ids)))
    return len(ids)

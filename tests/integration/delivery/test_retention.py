"""History retention: finished deliveries past their project's age or count limit are deleted
with their attempts, in batches; pending ones and other projects' history stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from herald.bootstrap import Container
from herald.delivery.pruning import HistoryPruner
from herald.domain.ids import new_id
from herald.runtime.clock import SystemClock
from herald.runtime.settings import RetentionSettings
from herald.store.tables import deliveries, delivery_attempts
from tests.conftest import make_settings
from tests.integration.delivery.delivery_support import eventually, make_project, running_worker

NOW = dt.datetime.now(dt.UTC)


def history(
    c: Container, project_id: str, ages_days: list[float], status: str = "success"
) -> list[str]:
    """Deliveries (oldest first) that finished `ages_days` ago, each with one attempt row."""
    ids = []
    with c.db.transaction() as uow:
        for age in sorted(ages_days, reverse=True):
            did = new_id()
            at = NOW - dt.timedelta(days=age)
            common: dict[str, Any] = {
                "project_id": project_id,
                "config_id": "cfg",
                "channel_id": "chan",
                "event_type": "task_stopped",
                "channel_type": "custom",
            }
            uow.execute(
                deliveries.insert().values(
                    id=did,
                    kind="event",
                    target_key="t",
                    status=status,
                    attempts=1,
                    max_attempts=4,
                    next_attempt_at=at,
                    created_at=at,
                    updated_at=at,
                    finished_at=at if status != "pending" else None,
                    **common,
                )
            )
            uow.execute(
                delivery_attempts.insert().values(
                    id=new_id(),
                    delivery_id=did,
                    attempt=1,
                    trigger="scheduled",
                    outcome="delivered" if status == "success" else "retryable",
                    request={},
                    latency_ms=1.0,
                    created_at=at,
                    **common,
                )
            )
            ids.append(did)
    return ids


def remaining(c: Container) -> tuple[set[str], set[str]]:
    with c.db.read() as conn:
        kept = set(conn.execute(sa.select(deliveries.c.id)).scalars())
        attempted = set(conn.execute(sa.select(delivery_attempts.c.delivery_id)).scalars())
    return kept, attempted


def test_age_limit_prunes_in_batches_and_keeps_pending_and_overridden(container: Container) -> None:
    a, _ = make_project(container, "alpha")
    b, _ = make_project(container, "beta")
    recent = history(container, a, [0.5, 1.5, 2.5])
    old = history(container, a, [6.5, 7.5, 8.5, 9.5, 30, 400])
    failed_old = history(container, a, [50], status="failed")
    pending_old = history(container, a, [60], status="pending")
    b_old = history(container, b, [100, 150])
    settings = RetentionSettings(
        max_age_days=5, batch_size=3, pause=0, projects={"beta": {"max_age_days": 200}}
    )
    deleted = HistoryPruner(container.db, SystemClock(), settings).prune()
    kept, attempted = remaining(container)
    assert deleted == len(old) + len(failed_old)
    assert kept == {*recent, *pending_old, *b_old}
    assert attempted == kept  # the attempts went with their deliveries


def test_count_limit_keeps_each_projects_newest(container: Container) -> None:
    a, _ = make_project(container, "alpha")
    b, _ = make_project(container, "beta")
    a_ids = history(container, a, [9, 8, 7, 6, 5, 4])
    pending = history(container, a, [3], status="pending")
    b_ids = history(container, b, [9, 8])
    settings = RetentionSettings(max_age_days=None, max_count=3, batch_size=2, pause=0)
    assert HistoryPruner(container.db, SystemClock(), settings).prune() == 4
    kept, _ = remaining(container)
    # The newest three of alpha are the pending one and the two newest finished ones.
    assert kept == {*a_ids[-2:], *pending, *b_ids}


def test_override_by_project_id_tightens_the_count(container: Container) -> None:
    a, _ = make_project(container, "alpha")
    b, _ = make_project(container, "beta")
    a_ids = history(container, a, [3, 2, 1])
    b_ids = history(container, b, [3, 2, 1])
    settings = RetentionSettings(projects={b: {"max_count": 1}}, pause=0)
    assert HistoryPruner(container.db, SystemClock(), settings).prune() == 2
    kept, _ = remaining(container)
    assert kept == {*a_ids, b_ids[-1]}


def test_nothing_to_prune_deletes_nothing(container: Container) -> None:
    a, _ = make_project(container, "alpha")
    ids = history(container, a, [1, 2])
    assert HistoryPruner(container.db, SystemClock(), RetentionSettings()).prune() == 0
    assert remaining(container)[0] == set(ids)


@pytest.mark.asyncio
async def test_the_worker_prunes_on_its_own(store_url: str) -> None:
    settings = make_settings(store_url, retention={"max_age_days": 10, "interval": 3600})
    c = Container.build(settings, SystemClock())
    try:
        a, _ = make_project(c, "alpha")
        keep = history(c, a, [1])
        history(c, a, [20, 30])
        async with running_worker(c):
            await eventually(lambda: remaining(c)[0] == set(keep))
    finally:
        c.close()

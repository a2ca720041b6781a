"""Crash safety with real processes: SIGKILL a worker (PostgreSQL) or the whole embedded server
(SQLite) in the middle of a burst; every delivery still arrives, and the only duplicates are
deliveries the killed process had in flight."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread
from herald.runtime.settings import ExplicitSettings
from herald.store.tables import deliveries
from tests.conftest import ADMIN_TOKEN
from tests.e2e.processes import SECRET_KEY, HeraldProcess, free_port, herald_env, wait_http
from tests.integration.delivery.delivery_support import (
    add_config,
    custom_channel,
    emit_stopped_tasks,
    make_project,
)

pytestmark = pytest.mark.slow

CHANNELS = 10
EVENTS = 200  # × CHANNELS = 2,000 deliveries
# Room for many requests per sink at once (the limit is global across workers), so the killed
# process always dies with some in flight.
CONCURRENCY = {"HERALD_WORKER__PER_TARGET_CONCURRENCY": "16"}


def _container(url: str) -> Container:
    settings = ExplicitSettings(
        database_url=url,
        secret_key=SECRET_KEY,
        admin_token=ADMIN_TOKEN,
        egress_allow=["127.0.0.1/32"],
    )
    return Container.build(settings)


def _status_counts(c: Container) -> dict[str, int]:
    with c.db.read() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
        ).all()
    return {str(status): int(n) for status, n in rows}


def _in_flight_of(c: Container, pid: int) -> int:
    """Deliveries the process held a lease on (claimed, result not written) when it died."""
    with c.db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    deliveries.c.status == "pending", deliveries.c.lease_owner.like(f"%:{pid}:%")
                )
            ).scalar_one()
        )


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _setup(c: Container, fake: FakePlatforms) -> list[str]:
    project_id, version_id = make_project(c)
    names = [f"sink-{i}" for i in range(CHANNELS)]
    for name in names:
        fake.set_endpoint(name, Behaviour.hang(0.15))
    add_config(c, project_id, [custom_channel(fake.endpoint_url(n), timeout=5) for n in names])
    emit_stopped_tasks(c, project_id, version_id, EVENTS)
    return names


def _received(fake: FakePlatforms, names: list[str]) -> tuple[int, int]:
    stats = [fake.endpoint_stats(n) for n in names]
    return sum(s.distinct_ids for s in stats), sum(s.duplicate_deliveries for s in stats)


@pytest.mark.postgres
def test_sigkill_of_one_of_two_workers_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    c = _container(pg_url)
    env = herald_env(pg_url, **CONCURRENCY)
    with FakePlatformsThread() as fake:
        names = _setup(c, fake)
        first = HeraldProcess(["worker"], env, tmp_path / "w1.log")
        second = HeraldProcess(["worker"], env, tmp_path / "w2.log")
        third = None
        try:
            _wait(lambda: _received(fake, names)[0] >= 400, 60, "the burst to get going")
            first.kill()
            in_flight = _in_flight_of(c, first.pid)
            third = HeraldProcess(["worker"], env, tmp_path / "w3.log")
            _wait(
                lambda: _status_counts(c).get("success", 0) == CHANNELS * EVENTS,
                120,
                "every delivery",
            )
            distinct, duplicates = _received(fake, names)
        finally:
            for proc in (first, second, third):
                if proc is not None:
                    proc.stop()
    c.close()
    assert distinct == CHANNELS * EVENTS
    assert in_flight > 0, "the kill should have caught deliveries in flight"
    assert duplicates <= in_flight


def test_sigkill_of_the_embedded_server_loses_nothing(sqlite_url: str, tmp_path: Path) -> None:
    url = sqlite_url
    c = _container(url)
    port = free_port()
    env = herald_env(url, HERALD_PORT=str(port), HERALD_ADMIN_TOKEN=ADMIN_TOKEN, **CONCURRENCY)
    with FakePlatformsThread() as fake:
        names = _setup(c, fake)
        server = HeraldProcess(["serve"], env, tmp_path / "serve1.log")
        restarted = None
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=server)
            _wait(lambda: _received(fake, names)[0] >= 300, 60, "the burst to get going")
            server.kill()
            in_flight = _in_flight_of(c, server.pid)
            restarted = HeraldProcess(["serve"], env, tmp_path / "serve2.log")
            _wait(
                lambda: _status_counts(c).get("success", 0) == CHANNELS * EVENTS,
                120,
                "every delivery",
            )
            distinct, duplicates = _received(fake, names)
        finally:
            server.stop()
            if restarted is not None:
                restarted.stop()
    c.close()
    assert distinct == CHANNELS * EVENTS
    assert duplicates <= in_flight

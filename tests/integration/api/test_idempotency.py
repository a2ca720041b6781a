"""The Idempotency-Key header: one piece of work per (token, key), its first answer replayed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from herald.access.idempotency import KEEP, IdempotencyService, Verdict
from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from herald.runtime.clock import FakeClock
from tests.integration.api.helpers import AUTH, create_project

R = "/api/v1/release"


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def _task(project: str = "p", **extra: Any) -> dict[str, Any]:
    return {
        "project": project,
        "version": "v1",
        "strategy": "rolling",
        "environment": "staging",
        "hosts": ["h1"],
        **extra,
    }


def _keyed(key: str, headers: dict[str, str] = AUTH) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def _count_tasks(container: Container) -> int:
    with container.db.read() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one())


def test_a_retry_answers_the_first_response_and_does_no_work(
    client: TestClient, container: Container
) -> None:
    create_project(client, "p")
    first = client.post(f"{R}/tasks", json=_task(), headers=_keyed("ci-812-create"))
    assert first.status_code == 201, first.text
    # The same body in another key order and spacing is the same request.
    reordered = dict(reversed(list(_task().items())))
    again = client.post(f"{R}/tasks", json=reordered, headers=_keyed("ci-812-create"))
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotency-replayed"] == "true"
    assert _count_tasks(container) == 1
    other = client.post(f"{R}/tasks", json=_task(), headers=_keyed("ci-813-create"))
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    unkeyed = client.post(f"{R}/tasks", json=_task(), headers=AUTH)
    assert unkeyed.status_code == 201 and _count_tasks(container) == 3


def test_the_same_key_with_another_request_is_a_422(client: TestClient) -> None:
    create_project(client, "p")
    assert client.post(f"{R}/tasks", json=_task(), headers=_keyed("k1")).status_code == 201
    r = client.post(f"{R}/tasks", json=_task(hosts=["h2"]), headers=_keyed("k1"))
    assert r.status_code == 422 and "another request" in r.json()["error"]["message"]
    r = client.post(f"{R}/projects", json={"name": "x"}, headers=_keyed("k1"))
    assert r.status_code == 422  # another route is another request


def test_keys_belong_to_their_token(client: TestClient, container: Container) -> None:
    project = create_project(client, "p")
    token = container.tokens.create("ci", Role.MAINTAINER, [project["id"]], None).token
    other = {"Authorization": f"Bearer {token}"}
    a = client.post(f"{R}/tasks", json=_task(), headers=_keyed("shared"))
    b = client.post(f"{R}/tasks", json=_task(), headers=_keyed("shared", other))
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    with container.db.read() as conn:
        stored = str(conn.execute(sa.text("SELECT * FROM idempotency_keys")).all())
    assert token not in stored and "shared" not in stored


def test_failed_requests_are_not_kept(client: TestClient) -> None:
    r = client.post(f"{R}/tasks", json=_task("later"), headers=_keyed("k2"))
    assert r.status_code == 404  # no such project yet
    create_project(client, "later")
    r = client.post(f"{R}/tasks", json=_task("later"), headers=_keyed("k2"))
    assert r.status_code == 201


def test_bad_keys_are_a_400(client: TestClient) -> None:
    r = client.post(f"{R}/projects", json={"name": "x"}, headers=_keyed("k" * 256))
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/projects", {"name": "keyed"}),
        ("/projects/{pid}/versions", {"name": "v7"}),
        (
            "/projects/{pid}/callbacks",
            {
                "events": ["task_failed"],
                "channels": [{"type": "custom", "config": {"url": "http://127.0.0.1:9/x"}}],
            },
        ),
    ],
)
def test_every_creating_post_is_replayed(client: TestClient, path: str, body: Any) -> None:
    pid = create_project(client, "p")["id"]
    url = f"{R}{path.format(pid=pid)}"
    first = client.post(url, json=body, headers=_keyed("create-1"))
    again = client.post(url, json=body, headers=_keyed("create-1"))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()


def test_concurrent_retries_do_the_work_once(client: TestClient, container: Container) -> None:
    create_project(client, "p")

    def fire(_: int) -> Any:
        return client.post(f"{R}/tasks", json=_task(), headers=_keyed("burst"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(fire, range(16)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1
    assert _count_tasks(container) == 1


def test_keys_expire_after_a_day_and_are_pruned_in_batches(container: Container) -> None:
    clock = FakeClock(dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    service = IdempotencyService(container.db, clock)
    for i in range(5):
        scope, found = service.reserve("token", f"k{i}", "request")
        assert found.verdict is Verdict.NEW
        service.complete(scope, 201, "{}")
    clock.advance(KEEP.total_seconds() - 1)
    assert service.reserve("token", "k0", "request")[1].verdict is Verdict.REPLAY
    assert service.reserve("token", "k0", "other")[1].verdict is Verdict.MISMATCH
    clock.advance(2)
    assert service.prune(batch=2) == 2
    assert service.prune(batch=2) == 2
    # k0 is expired: reserved afresh (and the reservation prunes the last expired key).
    assert service.reserve("token", "k0", "other")[1].verdict is Verdict.NEW
    assert service.prune(batch=2) == 0


def test_an_abandoned_reservation_is_taken_over_after_its_lease(container: Container) -> None:
    clock = FakeClock(dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    service = IdempotencyService(container.db, clock)
    assert service.reserve("t", "k", "r")[1].verdict is Verdict.NEW  # then the holder crashed
    assert service.reserve("t", "k", "r")[1].verdict is Verdict.IN_FLIGHT
    clock.advance(61)
    assert service.reserve("t", "k", "r")[1].verdict is Verdict.NEW

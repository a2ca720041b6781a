"""`POST /api/v1/events`: releases Herald did not run, recorded as external tasks, each event
applied once per (run, event[, step]) and never a 409 for a retry."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from tests.integration.api.helpers import AUTH, create_project, event_types

EVENTS = "/api/v1/events"
R = "/api/v1/release"


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        create_project(c, "payments-api")
        yield c


def send(client: TestClient, event: str, run: str = "gh-812-1", **extra: Any) -> Any:
    body = {
        "project": "payments-api",
        "version": "v1.4.2",
        "environment": "production",
        "run_id": run,
        "event": event,
        **extra,
    }
    return client.post(EVENTS, json=body, headers=AUTH)


def test_a_canary_run_step_by_step_with_every_call_sent_twice(client: TestClient) -> None:
    hosts: dict[str, Any] = {
        "hosts": ["h1", "h2", "h3"],
        "progress": {"canary": 1},
        "strategy": "canary",
    }
    context = {"operator": "alice", "commit": "abc123"}
    first = send(client, "canary_started", context=context, **hosts)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["duplicate"] is False and answer["event_type"] == "canary_started"
    task = answer["task"]
    assert (task["run_id"], task["executor"]["type"], task["status"]) == (
        "gh-812-1",
        "external",
        "running",
    )
    assert task["hosts"] == ["h1", "h2", "h3"] and task["canary_count"] == 1
    assert task["context"] == context
    again = send(client, "canary_started", context=context, **hosts)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["event_id"] == answer["event_id"]
    step = {"index": 1, "total": 2, "weight": 25}
    for _ in range(2):
        assert send(client, "canary_step", step=step).status_code in (200, 201)
    r = send(client, "canary_step", step={**step, "index": 2})
    assert r.status_code == 201 and r.json()["duplicate"] is False
    for expected in (201, 200):
        r = send(client, "canary_completed")
        assert r.status_code == expected and r.json()["task"]["status"] == "awaiting_promotion"
    for expected in (201, 200):
        r = send(client, "full_completed")
        assert r.status_code == expected and r.json()["task"]["status"] == "success"
    tid = answer["task_id"]
    assert event_types(client, tid) == [
        "canary_started",
        "canary_step",
        "canary_completed",
        "full_completed",
    ]
    events = client.get(f"{R}/tasks/{tid}/events", headers=AUTH).json()
    assert [e["payload"]["sequence"] for e in events] == [1, 2, 3, 4]
    assert events[1]["payload"]["step"] == {"index": 1, "total": 2, "weight": 25, "hosts": None}
    listed = client.get(f"{R}/tasks", params={"project": "payments-api", "run_id": "gh-812-1"})
    assert listed.status_code == 401  # a token is still needed
    listed = client.get(
        f"{R}/tasks", params={"project": "payments-api", "run_id": "gh-812-1"}, headers=AUTH
    )
    assert [t["id"] for t in listed.json()["items"]] == [tid]


def test_an_event_that_skips_states_announces_only_itself(client: TestClient) -> None:
    r = send(client, "full_completed", strategy="canary", progress={"total": 4, "canary": 1})
    assert r.status_code == 201, r.text
    task = r.json()["task"]
    assert task["status"] == "success" and task["hosts"] == ["#1", "#2", "#3", "#4"]
    assert task["counts"]["success"] == 4
    assert event_types(client, task["id"]) == ["full_completed"]
    event = client.get(f"{R}/tasks/{task['id']}/events", headers=AUTH).json()[0]
    assert event["payload"]["sequence"] == 1 and event["id"] == r.json()["event_id"]


def test_a_failure_carries_reason_and_failed_hosts_and_later_events_are_409(
    client: TestClient,
) -> None:
    send(client, "rollout_started", hosts=["a", "b", "c"])
    r = send(client, "task_failed", failed_hosts=["b"], reason="health check failed on b")
    assert r.status_code == 201, r.text
    task = r.json()["task"]
    assert task["status"] == "failed" and task["reason"] == "health check failed on b"
    assert [h["host"] for h in task["host_results"] if h["status"] == "failed"] == ["b"]
    assert send(client, "task_failed", failed_hosts=["b"]).status_code == 200
    r = send(client, "full_completed")
    assert r.status_code == 409
    assert r.json()["error"]["details"]["status"] == "failed"
    assert event_types(client, task["id"]) == ["rollout_started", "task_failed"]


def test_bad_events_are_422_naming_the_problem(client: TestClient) -> None:
    r = send(client, "canary_step")
    assert r.status_code == 422 and "step" in r.json()["error"]["message"]
    r = client.post(
        EVENTS,
        json={"project": "payments-api", "run_id": "x", "event": "task_failed"},
        headers=AUTH,
    )
    assert r.status_code == 422 and "version and environment" in r.json()["error"]["message"]
    r = send(client, "canary_started", context={"colour": "red"})
    assert r.status_code == 422 and "colour" in r.json()["error"]["message"]
    r = send(client, "deployed")
    assert r.status_code == 422


def test_who_may_send_events_and_create_projects(client: TestClient, container: Container) -> None:
    project = client.get(f"{R}/projects/by-name/payments-api", headers=AUTH).json()
    maintainer = container.tokens.create("ci", Role.MAINTAINER, [project["id"]], None).token
    viewer = container.tokens.create("v", Role.VIEWER, [project["id"]], None).token
    as_ci = {"Authorization": f"Bearer {maintainer}"}
    body = {"version": "v1", "environment": "staging", "run_id": "r1", "event": "rollout_started"}
    r = client.post(EVENTS, json={**body, "project": "payments-api"}, headers=as_ci)
    assert r.status_code == 201, r.text
    r = client.post(
        EVENTS,
        json={**body, "project": "payments-api"},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    assert r.status_code == 403
    r = client.post(EVENTS, json={**body, "project": "brand-new"}, headers=as_ci)
    assert r.status_code == 404 and "brand-new" in r.json()["error"]["message"]
    r = client.post(EVENTS, json={**body, "project": "brand-new"}, headers=AUTH)
    assert r.status_code == 201  # an admin's event creates the project
    assert client.get(f"{R}/projects/by-name/brand-new", headers=AUTH).status_code == 200


def test_concurrent_duplicates_make_one_task_and_one_event(client: TestClient) -> None:
    def fire(_: int) -> Any:
        return send(client, "full_completed", run="race-1", hosts=["h1", "h2"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(fire, range(12)))
    assert sorted(a.status_code for a in answers) == [200] * 11 + [201]
    assert len({a.json()["task_id"] for a in answers}) == 1
    assert len({a.json()["event_id"] for a in answers}) == 1
    listed = client.get(f"{R}/tasks", params={"run_id": "race-1"}, headers=AUTH).json()["items"]
    assert len(listed) == 1
    assert event_types(client, listed[0]["id"]) == ["full_completed"]


def test_a_run_that_starts_with_a_step_declares_its_steps(client: TestClient) -> None:
    """Argo Rollouts reports setWeight steps: the first says how many there are."""
    for index, weight in ((1, 10), (1, 10), (2, 50)):
        step = {"index": index, "total": 3, "weight": weight}
        r = send(client, "canary_step", run="argo-7", strategy="canary", step=step)
        assert r.status_code in (200, 201), r.text
    task = r.json()["task"]
    assert task["status"] == "running"
    assert [s["weight"] for s in task["canary_steps"]] == [10, 50, None]
    stored = client.get(f"{R}/tasks/{task['id']}", headers=AUTH).json()
    assert [s["weight"] for s in stored["canary_steps"]] == [10, 50, None]
    r = send(client, "canary_step", run="argo-7", step={"index": 3, "total": 3, "weight": 100})
    assert r.json()["task"]["status"] == "awaiting_promotion"
    events = client.get(f"{R}/tasks/{task['id']}/events", headers=AUTH).json()
    kinds = [
        (e["payload"]["event_type"], e["payload"].get("step", {}).get("weight")) for e in events
    ]
    assert kinds == [("canary_step", 10), ("canary_step", 50), ("canary_completed", None)]

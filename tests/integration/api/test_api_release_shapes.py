"""Multi-step canaries, start events and rollbacks through the API and the engine, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from tests.integration.api.helpers import (
    AUTH,
    create_project,
    create_task,
    create_version,
    event_types,
    wait_for_status,
)

SIMULATED = {"type": "simulated", "host_seconds": 0.01}
HOSTS = [f"web-{i}" for i in range(1, 9)]


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    app = create_app(container, background=[container.runner().run])
    with TestClient(app) as c:
        yield c


@pytest.fixture
def refs(client: TestClient) -> dict[str, str]:
    project = create_project(client)
    version = create_version(client, project["id"])
    return {"project_id": project["id"], "version_id": version["id"]}


def steps_canary(refs: dict[str, str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        **refs,
        "strategy": "canary",
        "environment": "production",
        "hosts": HOSTS,
        "canary_steps": [{"weight": 10}, {"weight": 50}, {"hosts": 6}],
        "batch_size": 2,
        "executor": SIMULATED,
    }
    return {**body, **extra}


def events(client: TestClient, task_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/release/tasks/{task_id}/events", headers=AUTH)
    assert r.status_code == 200, r.text
    answer: list[dict[str, Any]] = r.json()
    return answer


def test_the_engine_deploys_each_step_in_order_and_announces_it_once(
    client: TestClient, refs: dict[str, str]
) -> None:
    task = create_task(client, **steps_canary(refs))
    assert task["canary_count"] == 6
    assert [(s["index"], s["weight"], s["hosts"]) for s in task["canary_steps"]] == [
        (1, 10, 1),
        (2, 50, 4),
        (3, None, 6),
    ]
    client.post(f"/api/v1/release/tasks/{task['id']}/start", headers=AUTH)
    waiting = wait_for_status(client, task["id"], {"awaiting_promotion"})
    assert [s["done"] for s in waiting["canary_steps"]] == [True, True, True]
    assert waiting["counts"]["success"] == 6 and waiting["counts"]["pending"] == 2
    # Each step's hosts started only after the step before had finished.
    results = {h["host"]: h for h in waiting["host_results"]}
    assert results["web-1"]["finished_at"] <= min(results[h]["started_at"] for h in HOSTS[1:4])
    assert max(results[h]["finished_at"] for h in HOSTS[1:4]) <= results["web-5"]["started_at"]
    client.post(f"/api/v1/release/tasks/{task['id']}/promote", headers=AUTH)
    wait_for_status(client, task["id"], {"success"})
    stored = events(client, task["id"])
    assert [e["event_type"] for e in stored] == [
        "canary_started",
        "canary_step",
        "canary_step",
        "canary_completed",
        "full_completed",
    ]
    assert [e["payload"]["sequence"] for e in stored] == [1, 2, 3, 4, 5]
    assert [e["payload"].get("step") for e in stored[1:3]] == [
        {"index": 1, "total": 3, "weight": 10, "hosts": 1},
        {"index": 2, "total": 3, "weight": 50, "hosts": 4},
    ]
    assert stored[2]["payload"]["deployment"]["hosts"] == ["web-2", "web-3", "web-4"]
    assert "step" not in stored[3]["payload"] and "context" not in stored[3]["payload"]


def test_an_external_pipeline_reports_steps_and_retries_are_no_ops(
    client: TestClient, refs: dict[str, str]
) -> None:
    task = create_task(client, **steps_canary(refs, executor={"type": "external"}))
    url = f"/api/v1/release/tasks/{task['id']}/report"
    for _ in range(2):  # a flaky network sends everything twice
        r = client.post(url, json={"step": {"index": 1}}, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "running"
    assert event_types(client, task["id"]) == ["canary_started", "canary_step"]
    for _ in range(2):
        r = client.post(url, json={"step": {"index": 3}}, headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] == "awaiting_promotion"
    r = client.post(url, json={"step": {"index": 2}}, headers=AUTH)  # late and out of order
    assert r.status_code == 200
    r = client.post(url, json={"status": "success"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "success"
    assert event_types(client, task["id"]) == [
        "canary_started",
        "canary_step",
        "canary_step",
        "canary_completed",
        "full_completed",
    ]


def test_steps_that_cannot_be_deployed_are_refused_with_a_reason(
    client: TestClient, refs: dict[str, str]
) -> None:
    body = steps_canary(refs, canary_steps=[{"weight": 5}, {"weight": 10}])
    r = client.post("/api/v1/release/tasks", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert "canary_steps[2] deploys no new host" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/release/tasks", json=steps_canary(refs, canary_steps=[{}]), headers=AUTH
    )
    assert r.status_code == 422 and "give a weight" in r.json()["error"]["message"]
    rolling = create_task(
        client,
        **refs,
        strategy="rolling",
        environment="production",
        hosts=["a", "b"],
    )
    r = client.post(
        f"/api/v1/release/tasks/{rolling['id']}/report", json={"step": {"index": 1}}, headers=AUTH
    )
    assert r.status_code == 422 and "not a canary" in r.json()["error"]["message"]


def test_rolling_and_blue_green_announce_their_start_and_a_rollback_is_a_rollback(
    client: TestClient, refs: dict[str, str]
) -> None:
    shape = {"environment": "production", "hosts": ["a", "b", "c"], "executor": SIMULATED}
    first = create_task(client, **refs, strategy="rolling", **shape)
    client.post(f"/api/v1/release/tasks/{first['id']}/start", headers=AUTH)
    wait_for_status(client, first["id"], {"success"})
    assert event_types(client, first["id"]) == ["rollout_started", "full_completed"]
    v2 = create_version(client, refs["project_id"], "v2.0.0")
    second = create_task(
        client, project_id=refs["project_id"], version_id=v2["id"], strategy="blue_green", **shape
    )
    client.post(f"/api/v1/release/tasks/{second['id']}/start", headers=AUTH)
    wait_for_status(client, second["id"], {"success"})
    assert event_types(client, second["id"]) == ["rollout_started", "full_completed"]
    rollback = client.post(f"/api/v1/release/tasks/{second['id']}/rollback", headers=AUTH).json()
    client.post(f"/api/v1/release/tasks/{rollback['id']}/start", headers=AUTH)
    wait_for_status(client, rollback["id"], {"success"})
    stored = events(client, rollback["id"])
    assert [e["event_type"] for e in stored] == ["rollback_started", "rollback_completed"]
    assert stored[1]["payload"]["task"]["type"] == "rollback"

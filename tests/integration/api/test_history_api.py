"""History, stats, targets and metrics over HTTP after real deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, FakePlatformsThread
from tests.integration.api.helpers import AUTH

API = "/api/v1/release"


@pytest.fixture
def world(container: Container) -> Iterator[tuple[TestClient, Any, dict[str, str]]]:
    with (
        FakePlatformsThread() as fake,
        TestClient(create_app(container, background=[container.worker().run])) as client,
    ):
        fake.set_endpoint("good", Behaviour.ok())
        fake.set_endpoint("bad", Behaviour.with_status(400, b"nope"))
        project = client.post(f"{API}/projects", json={"name": "hist"}, headers=AUTH).json()
        version = client.post(
            f"{API}/projects/{project['id']}/versions", json={"name": "v1"}, headers=AUTH
        ).json()
        body = {
            "events": ["task_stopped"],
            "channels": [
                {"type": "custom", "config": {"url": fake.endpoint_url("good")}},
                {"type": "custom", "config": {"url": fake.endpoint_url("bad"), "retry_count": 0}},
            ],
        }
        config = client.post(
            f"{API}/projects/{project['id']}/callbacks", json=body, headers=AUTH
        ).json()
        ids = {"project": project["id"], "version": version["id"], "config": config["id"]}
        tasks = []
        for i in range(3):
            task = client.post(
                f"{API}/tasks",
                json={
                    "project_id": project["id"],
                    "version_id": version["id"],
                    "strategy": "rolling",
                    "environment": "staging",
                    "hosts": [f"h{i}"],
                },
                headers=AUTH,
            ).json()
            client.post(f"{API}/tasks/{task['id']}/stop", headers=AUTH)
            tasks.append(task["id"])
        ids["task"] = tasks[0]
        _wait(
            client, lambda items: len(items) == 6 and all(i["status"] != "pending" for i in items)
        )
        yield client, fake, ids


def _wait(
    client: TestClient, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        items: list[dict[str, Any]] = client.get(
            f"{API}/callbacks/history?limit=200", headers=AUTH
        ).json()["items"]
        if done(items):
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def test_filters_pagination_and_detail(world: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, _, ids = world
    failed = client.get(f"{API}/callbacks/history?status=failed", headers=AUTH).json()["items"]
    assert len(failed) == 3 and all(h["error"] and h["http_status"] == 400 for h in failed)
    assert failed[0]["request"]["method"] == "POST" and failed[0]["response"] == "nope"
    page = client.get(f"{API}/callbacks/history?limit=4", headers=AUTH).json()
    rest = client.get(
        f"{API}/callbacks/history?limit=4&cursor={page['next_cursor']}", headers=AUTH
    ).json()
    assert len(page["items"]) == 4 and len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert {h["id"] for h in page["items"]}.isdisjoint(h["id"] for h in rest["items"])
    by_task = client.get(f"{API}/tasks/{ids['task']}/callbacks", headers=AUTH).json()["items"]
    assert len(by_task) == 2 and {h["task_id"] for h in by_task} == {ids["task"]}
    by_config = client.get(
        f"{API}/callbacks/{ids['config']}/history?event_type=task_stopped", headers=AUTH
    ).json()
    assert len(by_config["items"]) == 6
    future = client.get(f"{API}/callbacks/history?since=2999-01-01T00:00:00Z", headers=AUTH).json()
    assert future["items"] == []
    for number in ("391", "0.0", "1e9"):
        refused = client.get(f"{API}/callbacks/history?until={number}", headers=AUTH)
        assert refused.status_code == 422, number
        assert "ISO-8601" in refused.json()["error"]["message"]
    edge = client.get(f"{API}/callbacks/history?since=0001-01-01T00:00:00%2B00:01", headers=AUTH)
    assert edge.status_code == 422 and "out of range" in edge.json()["error"]["message"]
    late = client.get(f"{API}/callbacks/history?until=9999-12-31T23:59:59-00:01", headers=AUTH)
    assert late.status_code == 422
    detail = client.get(f"{API}/callbacks/history/{failed[0]['id']}", headers=AUTH).json()
    assert [a["outcome"] for a in detail["attempt_log"]] == ["permanent"]
    assert detail["attempt_log"][0]["request"]["headers"]["webhook-id"] == failed[0]["id"]


def test_resend_over_http(world: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, fake, _ = world
    fake.set_endpoint("bad", Behaviour.ok())
    failed = client.get(f"{API}/callbacks/history?status=failed&limit=1", headers=AUTH).json()[
        "items"
    ][0]
    r = client.post(f"{API}/callbacks/history/{failed['id']}/resend", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    _wait(
        client,
        lambda items: next(i for i in items if i["id"] == failed["id"])["status"] == "success",
    )
    detail = client.get(f"{API}/callbacks/history/{failed['id']}", headers=AUTH).json()
    assert [(a["trigger"], a["outcome"]) for a in detail["attempt_log"]] == [
        ("scheduled", "permanent"),
        ("manual", "delivered"),
    ]


def test_stats_targets_and_metrics(world: tuple[TestClient, Any, dict[str, str]]) -> None:
    client, _, ids = world
    (row,) = client.get(f"{API}/callbacks/stats?project_id={ids['project']}", headers=AUTH).json()
    assert (row["channel_type"], row["event_type"]) == ("custom", "task_stopped")
    assert (row["success"], row["failed"], row["pending"]) == (3, 3, 0)
    assert (
        row["success_rate"] == 0.5 and row["latency_p50_ms"] > 0 and row["attempts_measured"] == 6
    )
    targets = client.get(f"{API}/callbacks/targets", headers=AUTH).json()
    assert len(targets) == 2 and {t["circuit"] for t in targets} == {"closed"}
    assert all("127.0.0.1" in t["description"] for t in targets)
    metrics = client.get("/metrics").text
    assert (
        'herald_delivery_attempts_total{channel="custom",event="task_stopped",outcome="delivered"} 3.0'
        in metrics
    )
    assert (
        'herald_deliveries_total{channel="custom",event="task_stopped",status="failed"} 3.0'
        in metrics
    )
    assert "herald_end_to_end_seconds_count" in metrics and "herald_queue_depth" in metrics

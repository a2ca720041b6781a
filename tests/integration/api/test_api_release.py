"""The release API over HTTP on SQLite and PostgreSQL: projects, versions, tasks, events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
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


def canary(refs: dict[str, str], **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        **refs,
        "strategy": "canary",
        "environment": "production",
        "hosts": [f"web-{i}" for i in range(1, 7)],
        "canary_count": 2,
        "batch_size": 2,
        "executor": SIMULATED,
    }
    body.update(extra)
    return body


def test_health_needs_no_token_but_everything_else_does(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.get("/api/v1/release/projects")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert "Bearer" in r.json()["error"]["message"]
    r = client.get("/api/v1/release/projects", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]


def test_canary_release_end_to_end_emits_three_events_once_each(
    client: TestClient, refs: dict[str, str]
) -> None:
    task = create_task(client, **canary(refs))
    assert task["status"] == "pending" and task["counts"]["total"] == 6
    r = client.post(f"/api/v1/release/tasks/{task['id']}/start", headers=AUTH)
    assert r.status_code == 200 and r.json()["phase"] == "canary"
    waiting = wait_for_status(client, task["id"], {"awaiting_promotion"})
    assert waiting["counts"]["success"] == 2
    r = client.post(f"/api/v1/release/tasks/{task['id']}/promote", headers=AUTH)
    assert r.status_code == 200
    done = wait_for_status(client, task["id"], {"success"})
    assert done["counts"] == {
        "total": 6,
        "pending": 0,
        "running": 0,
        "success": 6,
        "failed": 0,
        "cancelled": 0,
        "skipped": 0,
    }
    assert [h["status"] for h in done["host_results"]] == ["success"] * 6
    assert event_types(client, task["id"]) == [
        "canary_started",
        "canary_completed",
        "full_completed",
    ]
    events = client.get(f"/api/v1/release/tasks/{task['id']}/events", headers=AUTH).json()
    payload = events[2]["payload"]
    assert list(payload) == [
        "event_type",
        "project",
        "version",
        "task",
        "deployment",
        "timestamp",
        "duration",
        "environment",
        "sequence",
    ]
    assert [e["payload"]["sequence"] for e in events] == [1, 2, 3]
    assert payload["project"]["name"] == "my-app" and payload["version"]["name"] == "v1.2.3"
    assert (
        payload["deployment"]["completed_count"] == 6 and payload["deployment"]["canary_count"] == 2
    )
    assert payload["timestamp"].endswith("Z")


def test_failure_beyond_tolerance_emits_task_failed(
    client: TestClient, refs: dict[str, str]
) -> None:
    body = canary(refs, executor={**SIMULATED, "fail_hosts": ["web-1"]})
    task = create_task(client, **body)
    client.post(f"/api/v1/release/tasks/{task['id']}/start", headers=AUTH)
    failed = wait_for_status(client, task["id"], {"failed"})
    assert "failed" in failed["reason"]
    assert event_types(client, task["id"]) == ["canary_started", "task_failed"]


def test_auto_promotion(client: TestClient, refs: dict[str, str]) -> None:
    task = create_task(client, **canary(refs, auto_promote_after=0.3))
    client.post(f"/api/v1/release/tasks/{task['id']}/start", headers=AUTH)
    wait_for_status(client, task["id"], {"success"})
    assert event_types(client, task["id"]) == [
        "canary_started",
        "canary_completed",
        "full_completed",
    ]


def test_stop_and_illegal_transitions_answer_409(client: TestClient, refs: dict[str, str]) -> None:
    task = create_task(client, **canary(refs, executor={"type": "external"}))
    tid = task["id"]
    r = client.post(f"/api/v1/release/tasks/{tid}/promote", headers=AUTH)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "illegal_transition"
    assert "it is pending" in r.json()["error"]["message"]
    r = client.post(
        f"/api/v1/release/tasks/{tid}/stop", json={"reason": "bad config"}, headers=AUTH
    )
    assert r.status_code == 200 and r.json()["status"] == "stopped"
    assert r.json()["reason"] == "bad config"
    assert client.post(f"/api/v1/release/tasks/{tid}/start", headers=AUTH).status_code == 409
    assert event_types(client, tid) == ["task_stopped"]


def test_external_executor_reports(client: TestClient, refs: dict[str, str]) -> None:
    task = create_task(client, **canary(refs, executor={"type": "external"}))
    tid = task["id"]
    url = f"/api/v1/release/tasks/{tid}/report"
    r = client.post(url, json={"results": [{"host": "web-1", "status": "success"}]}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "running"
    r = client.post(url, json={"results": [{"host": "web-2", "status": "success"}]}, headers=AUTH)
    assert r.json()["status"] == "awaiting_promotion"
    r = client.post(url, json={"results": [{"host": "web-3", "status": "success"}]}, headers=AUTH)
    assert r.status_code == 409  # not in the current phase until promoted
    client.post(f"/api/v1/release/tasks/{tid}/promote", headers=AUTH)
    r = client.post(url, json={"status": "success"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "success"
    assert r.json()["counts"]["success"] == 6
    assert event_types(client, tid) == ["canary_started", "canary_completed", "full_completed"]


def test_reports_are_refused_for_engine_driven_tasks(
    client: TestClient, refs: dict[str, str]
) -> None:
    task = create_task(client, **canary(refs, executor={"type": "simulated", "host_seconds": 5}))
    r = client.post(
        f"/api/v1/release/tasks/{task['id']}/report", json={"status": "failed"}, headers=AUTH
    )
    assert r.status_code == 409 and "external" in r.json()["error"]["message"]


def test_rollback_targets_previous_successful_version(
    client: TestClient, refs: dict[str, str]
) -> None:
    rolling = {
        "strategy": "rolling",
        "environment": "production",
        "hosts": ["a", "b"],
        "batch_size": 1,
    }
    first = create_task(client, **refs, **rolling, executor=SIMULATED)
    client.post(f"/api/v1/release/tasks/{first['id']}/start", headers=AUTH)
    wait_for_status(client, first["id"], {"success"})
    v2 = create_version(client, refs["project_id"], "v2.0.0")
    second = create_task(client, project_id=refs["project_id"], version_id=v2["id"], **rolling)
    r = client.post(f"/api/v1/release/tasks/{second['id']}/rollback", headers=AUTH)
    assert r.status_code == 201, r.text
    rollback = r.json()
    assert rollback["type"] == "rollback" and rollback["version_id"] == refs["version_id"]
    assert rollback["rollback_of"] == second["id"] and rollback["status"] == "pending"
    stopped = client.get(f"/api/v1/release/tasks/{second['id']}", headers=AUTH).json()
    assert stopped["status"] == "stopped"
    r = client.post(f"/api/v1/release/tasks/{first['id']}/rollback", headers=AUTH)
    assert r.status_code == 409 and "no earlier successful release" in r.json()["error"]["message"]


def test_listing_filters_and_pages(client: TestClient, refs: dict[str, str]) -> None:
    ids = [
        create_task(client, **canary(refs, executor={"type": "external"}))["id"] for _ in range(5)
    ]
    r = client.get("/api/v1/release/tasks?limit=2", headers=AUTH).json()
    assert [t["id"] for t in r["items"]] == ids[::-1][:2]
    seen = [t["id"] for t in r["items"]]
    while r["next_cursor"]:
        r = client.get(
            f"/api/v1/release/tasks?limit=2&cursor={r['next_cursor']}", headers=AUTH
        ).json()
        seen += [t["id"] for t in r["items"]]
    assert seen == ids[::-1]
    client.post(f"/api/v1/release/tasks/{ids[0]}/stop", headers=AUTH)
    r = client.get("/api/v1/release/tasks?status=stopped", headers=AUTH).json()
    assert [t["id"] for t in r["items"]] == [ids[0]]
    r = client.get("/api/v1/release/tasks?cursor=%%%", headers=AUTH)
    assert r.status_code == 400


def _row_counts(container: Container) -> dict[str, int]:
    with container.db.read() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("projects", "versions", "tasks", "task_hosts", "events")
        }


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"project_id": "nope"}, 404, "project nope does not exist"),
        ({"hosts": []}, 422, "at least one host"),
        ({"canary_count": 6}, 422, "less than the number of hosts"),
        ({"executor": {"type": "ssh"}}, 422, "does not match any of the expected tags"),
        ({"executor": {"type": "command", "name": "rm-rf"}}, 422, "unknown command 'rm-rf'"),
        (
            {"executor": {"type": "command", "name": "x", "argv": ["sh"]}},
            422,
            "executor.command.argv",
        ),
        ({"strategy": "yolo"}, 422, "strategy"),
        ({"batch_size": 0}, 422, "batch_size"),
        ({"hosts": ["a"] * 2}, 422, "must not repeat"),
        ({"hosts": ["web-1", "\x1f"]}, 422, "without control characters"),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_task_input_is_rejected_and_writes_nothing(
    client: TestClient,
    container: Container,
    refs: dict[str, str],
    change: dict[str, object],
    status: int,
    fragment: str,
) -> None:
    before = _row_counts(container)
    r = client.post("/api/v1/release/tasks", json=canary(refs, **change), headers=AUTH)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert fragment in error["message"] or fragment in str(error["details"])
    assert _row_counts(container) == before


def test_malformed_json_is_a_400(client: TestClient) -> None:
    r = client.post(
        "/api/v1/release/projects",
        content=b'{"name": "x",',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("request body is not valid JSON")


@pytest.mark.parametrize("name", [" payments", "payments\u3000", "pay\nments", "\x85"])
def test_names_with_control_characters_or_edge_spaces_are_422(
    client: TestClient, container: Container, name: str
) -> None:
    before = _row_counts(container)
    r = client.post("/api/v1/release/projects", json={"name": name}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == (
        "name: must not contain control characters or start or end with a space"
    )
    assert _row_counts(container) == before


def test_duplicate_project_name_is_409(client: TestClient) -> None:
    create_project(client, "dup")
    r = client.post("/api/v1/release/projects", json={"name": "dup"}, headers=AUTH)
    assert r.status_code == 409 and "already exists" in r.json()["error"]["message"]


def test_oversized_body_is_413(client: TestClient) -> None:
    r = client.post(
        "/api/v1/release/projects",
        content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    r = client.get("/api/v1/release/nothing", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.delete("/api/v1/release/projects", headers=AUTH)
    assert r.status_code == 405 and "error" in r.json()

"""Small helpers for API-level tests."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def create_project(client: TestClient, name: str = "my-app") -> dict[str, Any]:
    r = client.post(
        "/api/v1/release/projects", json={"name": name, "description": "demo"}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def create_version(client: TestClient, project_id: str, name: str = "v1.2.3") -> dict[str, Any]:
    r = client.post(
        f"/api/v1/release/projects/{project_id}/versions", json={"name": name}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def create_task(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/release/tasks", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def wait_for_status(
    client: TestClient, task_id: str, wanted: set[str], timeout: float = 15.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = client.get(f"/api/v1/release/tasks/{task_id}", headers=AUTH).json()
        if task["status"] in wanted:
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"task stayed {task['status']}, wanted {wanted}")
        time.sleep(0.05)


def event_types(client: TestClient, task_id: str) -> list[str]:
    r = client.get(f"/api/v1/release/tasks/{task_id}/events", headers=AUTH)
    assert r.status_code == 200, r.text
    return [e["event_type"] for e in r.json()]

"""Release actions in the audit log (issue 9, defect 8): who created, started, reported,
promoted, stopped and rolled back which task, when, with the task's state before and after,
written in the transaction of the change and filterable by project, task and action."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from tests.integration.api.helpers import AUTH

R = "/api/v1/release"


@dataclass
class World:
    client: TestClient
    ids: dict[str, str]
    headers: dict[str, dict[str, str]]

    def call(self, who: str, method: str, url: str, body: Any = None) -> Any:
        r = self.client.request(method, url, json=body, headers=self.headers[who])
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def audit(self, who: str = "admin", **query: str) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/audit", params=query, headers=self.headers[who])
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


@pytest.fixture
def world(container: Container) -> Iterator[World]:
    c = container
    ids: dict[str, str] = {}
    headers = {"admin": AUTH}
    for name in ("A", "B"):
        project = c.catalog.create_project(f"project-{name}", "")
        ids[f"project_{name}"] = project.id
        for v in ("v1", "v2"):
            ids[f"{v}_{name}"] = c.catalog.create_version(project.id, v, "").id
    for label, role, scope in (
        ("maintainer_A", Role.MAINTAINER, "project_A"),
        ("viewer_B", Role.VIEWER, "project_B"),
    ):
        issued = c.tokens.create(label, role, [ids[scope]], None)
        ids[label] = issued.id
        headers[label] = {"Authorization": f"Bearer {issued.token}"}
    with TestClient(create_app(c)) as client:
        yield World(client, ids, headers)


def _task(world: World, version: str, **extra: Any) -> str:
    body = {
        "project_id": world.ids["project_A"],
        "version_id": world.ids[version],
        "strategy": "rolling",
        "environment": "production",
        "hosts": ["h1", "h2", "h3"],
        **extra,
    }
    return str(world.call("maintainer_A", "POST", f"{R}/tasks", body)["id"])


def test_every_release_action_is_audited_with_actor_and_states(world: World) -> None:
    w = world
    first = _task(w, "v1_A")
    done = [{"host": h, "status": "success"} for h in ("h1", "h2", "h3")]
    w.call("maintainer_A", "POST", f"{R}/tasks/{first}/report", {"results": done})
    task = _task(w, "v2_A", strategy="canary", canary_count=1)
    w.call("maintainer_A", "POST", f"{R}/tasks/{task}/start")
    report = {"results": [{"host": "h1", "status": "success", "exit_code": 0, "output": "ok"}]}
    w.call("maintainer_A", "POST", f"{R}/tasks/{task}/report", report)
    w.call("maintainer_A", "POST", f"{R}/tasks/{task}/promote")
    w.call("maintainer_A", "POST", f"{R}/tasks/{task}/stop", {"reason": "error rate up"})
    rollback = w.call("maintainer_A", "POST", f"{R}/tasks/{task}/rollback")["id"]

    entries = w.audit(task_id=task)
    assert [e["action"] for e in entries] == [
        "task.rollback",
        "task.stop",
        "task.promote",
        "task.report",
        "task.start",
        "task.create",
    ]
    assert {(e["actor_id"], e["actor_name"]) for e in entries} == {
        (w.ids["maintainer_A"], "maintainer_A")
    }
    assert {(e["resource_type"], e["resource_id"], e["project_id"]) for e in entries} == {
        ("task", task, w.ids["project_A"])
    }
    by_action = {e["action"]: e for e in entries}

    created = by_action["task.create"]
    assert created["before"] is None
    assert created["after"]["status"] == "pending" and created["after"]["strategy"] == "canary"
    assert created["after"]["version_id"] == w.ids["v2_A"] and created["after"]["hosts"] == 3

    reported = by_action["task.report"]
    assert reported["before"]["status"] == "running" and reported["before"]["phase"] == "canary"
    assert reported["after"]["status"] == "awaiting_promotion"
    assert reported["after"]["counts"]["success"] == 1
    assert reported["after"]["reported"] == {
        "results": [{"host": "h1", "status": "success", "exit_code": 0}],
        "status": None,
        "reason": None,
    }

    promoted = by_action["task.promote"]
    assert (promoted["before"]["status"], promoted["after"]["status"]) == (
        "awaiting_promotion",
        "running",
    )
    assert promoted["after"]["phase"] == "full"

    stopped = by_action["task.stop"]
    assert (stopped["before"]["status"], stopped["after"]["status"]) == ("running", "stopped")
    assert stopped["after"]["reason"] == "error rate up"
    assert stopped["before"]["counts"]["pending"] == 2
    assert stopped["after"]["counts"]["skipped"] == 2

    assert by_action["task.rollback"]["after"]["rollback_task_id"] == rollback
    (origin,) = w.audit(task_id=rollback)
    assert origin["action"] == "task.create" and origin["after"]["rollback_of"] == task
    assert origin["after"]["type"] == "rollback"


def test_the_audit_log_filters_by_project_task_and_action(world: World) -> None:
    w = world
    task = _task(w, "v1_A")
    w.call("maintainer_A", "POST", f"{R}/tasks/{task}/start")
    w.call("maintainer_A", "POST", f"{R}/tasks/{task}/stop")
    other = _task(w, "v2_A")
    w.call("admin", "POST", f"{R}/tasks/{other}/stop", {"reason": "not today"})

    stops = w.audit(project_id=w.ids["project_A"], action="task.stop")
    assert [(e["resource_id"], e["actor_name"]) for e in stops] == [
        (other, "bootstrap-admin"),
        (task, "maintainer_A"),
    ]
    assert stops[1]["after"]["reason"] == "stopped by maintainer_A"
    family = w.audit(action="task")
    assert len(family) == 5 and all(e["action"].startswith("task.") for e in family)
    assert [e["action"] for e in w.audit(task_id=other)] == ["task.stop", "task.create"]
    assert w.audit(project_id=w.ids["project_B"]) == []
    # Project A's entries are invisible to a token of project B, whatever it asks for.
    assert w.audit("viewer_B") == []
    assert w.audit("viewer_B", project_id=w.ids["project_A"]) == []
    assert w.audit("viewer_B", task_id=task) == []
    r = w.client.get("/api/v1/audit", params={"action": "task stop"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.action"


def test_a_refused_action_leaves_no_audit_entry(world: World) -> None:
    w = world
    task = _task(w, "v1_A")
    r = w.client.post(f"{R}/tasks/{task}/promote", headers=w.headers["maintainer_A"])
    assert r.status_code == 409
    r = w.client.post(
        f"{R}/tasks/{task}/report",
        json={"results": [{"host": "nope", "status": "success"}]},
        headers=w.headers["maintainer_A"],
    )
    assert r.status_code == 422
    assert [e["action"] for e in w.audit(task_id=task)] == ["task.create"]

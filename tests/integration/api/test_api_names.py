"""Names instead of ids, the release context and run ids on tasks, free-form environments,
project rename and deletion (issue 11, items 1 and 3's storage)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from tests.integration.api.helpers import AUTH, create_project, create_version

R = "/api/v1/release"
CONTEXT = {
    "operator": "alice",
    "commit": "0a1b2c3d",
    "ref": "refs/tags/v1.4.2",
    "pipeline_url": "https://ci.example.com/run/812",
    "links": [{"title": "diff", "url": "https://git.example.com/compare/a...b"}],
    "changelog": "- faster checkout",
    "labels": {"team": "payments"},
}


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def _task_body(**extra: Any) -> dict[str, Any]:
    return {"strategy": "rolling", "environment": "production", "hosts": ["h1"], **extra}


def test_a_task_by_names_creates_the_version_and_keeps_context_and_run_id(
    client: TestClient,
) -> None:
    project = create_project(client, "payments-api")
    body = _task_body(project="payments-api", version="v1.4.2", context=CONTEXT, run_id="gh-812")
    r = client.post(f"{R}/tasks", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["project_id"] == project["id"] and task["run_id"] == "gh-812"
    assert task["context"] == CONTEXT
    versions = client.get(f"{R}/projects/{project['id']}/versions", headers=AUTH).json()["items"]
    assert [(v["id"], v["name"]) for v in versions] == [(task["version_id"], "v1.4.2")]
    shown = client.get(f"{R}/tasks/{task['id']}", headers=AUTH).json()
    assert shown["context"] == CONTEXT and shown["run_id"] == "gh-812"
    # The same version name again reuses the version; the same run id is refused by name.
    again = client.post(f"{R}/tasks", json={**body, "run_id": "gh-813"}, headers=AUTH).json()
    assert again["version_id"] == task["version_id"]
    r = client.post(f"{R}/tasks", json=body, headers=AUTH)
    assert r.status_code == 409 and r.json()["error"]["details"]["task_id"] == task["id"]


def test_tasks_filter_by_project_name_and_run_id(client: TestClient) -> None:
    for name in ("a", "b"):
        create_project(client, name)
        for run in ("r1", "r2"):
            body = _task_body(project=name, version="v1", run_id=run)
            assert client.post(f"{R}/tasks", json=body, headers=AUTH).status_code == 201
    r = client.get(f"{R}/tasks", params={"project": "b", "run_id": "r2"}, headers=AUTH)
    items = r.json()["items"]
    assert len(items) == 1 and items[0]["run_id"] == "r2"
    project_b = client.get(f"{R}/projects/by-name/b", headers=AUTH).json()
    assert items[0]["project_id"] == project_b["id"]
    r = client.get(f"{R}/tasks", params={"project": project_b["id"]}, headers=AUTH)
    assert {t["run_id"] for t in r.json()["items"]} == {"r1", "r2"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"context": {"operator": "bob", "colour": "red"}}, "unknown field 'colour'"),
        ({"context": {"pipeline_url": "ftp://x"}}, "pipeline_url"),
        ({"project_id": "x"}, "exactly one of project_id and project"),
        ({"environment": " prod"}, "environment"),
        ({"environment": "e" * 65}, "environment"),
    ],
)
def test_bad_task_input_is_a_422_naming_the_problem(
    client: TestClient, extra: dict[str, Any], field: str
) -> None:
    create_project(client, "p")
    body = {**_task_body(project="p", version="v1"), **extra}
    r = client.post(f"{R}/tasks", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]


def test_environments_are_free_labels_unless_the_project_restricts_them(
    client: TestClient,
) -> None:
    create_project(client, "free")
    r = client.post(
        f"{R}/tasks",
        json=_task_body(project="free", version="v1", environment="eu-west/canary"),
        headers=AUTH,
    )
    assert r.status_code == 201 and r.json()["environment"] == "eu-west/canary"
    listed = client.get(f"{R}/tasks", params={"environment": "eu-west/canary"}, headers=AUTH)
    assert len(listed.json()["items"]) == 1
    project = client.post(
        f"{R}/projects", json={"name": "strict", "environments": ["prod-cn", "gray"]}, headers=AUTH
    ).json()
    assert project["environments"] == ["prod-cn", "gray"]
    r = client.post(
        f"{R}/tasks",
        json=_task_body(project="strict", version="v1", environment="production"),
        headers=AUTH,
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["allowed"] == ["prod-cn", "gray"]
    r = client.post(
        f"{R}/tasks",
        json=_task_body(project="strict", version="v1", environment="gray"),
        headers=AUTH,
    )
    assert r.status_code == 201


def test_versions_create_or_get_and_the_prd_post_names_the_existing_id(
    client: TestClient,
) -> None:
    pid = create_project(client)["id"]
    first = client.put(f"{R}/projects/{pid}/versions/v2.0", json={"description": "d"}, headers=AUTH)
    assert first.status_code == 201 and first.json()["description"] == "d"
    again = client.put(f"{R}/projects/{pid}/versions/v2.0", headers=AUTH)
    assert again.status_code == 200 and again.json() == first.json()
    r = client.post(f"{R}/projects/{pid}/versions", json={"name": "v2.0"}, headers=AUTH)
    assert r.status_code == 409
    assert r.json()["error"]["details"]["version_id"] == first.json()["id"]
    assert client.put(f"{R}/projects/{pid}/versions/%20v", headers=AUTH).status_code == 422


def test_projects_by_name_hide_other_projects(client: TestClient, container: Container) -> None:
    a = create_project(client, "alpha")
    create_project(client, "beta")
    token = container.tokens.create("m", Role.MAINTAINER, [a["id"]], None).token
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{R}/projects/by-name/alpha", headers=mine).json()["id"] == a["id"]
    hidden = client.get(f"{R}/projects/by-name/beta", headers=mine)
    absent = client.get(f"{R}/projects/by-name/gamma", headers=mine)
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["error"]["message"] == "project beta does not exist"
    body = _task_body(project="beta", version="v1")
    r = client.post(f"{R}/tasks", json=body, headers=mine)
    assert r.status_code == 404 and "beta" in r.json()["error"]["message"]
    assert client.get(f"{R}/projects/{a['id']}/versions", headers=AUTH).json()["items"] == []


def test_rename_and_environments_by_the_maintainer(
    client: TestClient, container: Container
) -> None:
    a = create_project(client, "old-name")
    create_project(client, "taken")
    token = container.tokens.create("m", Role.MAINTAINER, [a["id"]], None).token
    mine = {"Authorization": f"Bearer {token}"}
    r = client.patch(
        f"{R}/projects/{a['id']}", json={"name": "new-name", "environments": ["qa"]}, headers=mine
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["environments"], r.json()["description"]) == (
        "new-name",
        ["qa"],
        "demo",
    )
    assert client.get(f"{R}/projects/by-name/new-name", headers=AUTH).status_code == 200
    r = client.patch(f"{R}/projects/{a['id']}", json={"name": "taken"}, headers=mine)
    assert r.status_code == 409
    audit = client.get("/api/v1/audit", params={"resource_id": a["id"]}, headers=AUTH).json()
    assert audit["items"][0]["action"] == "project.update"


def test_deletion_refuses_projects_with_history_and_removes_configs_otherwise(
    client: TestClient,
) -> None:
    busy = create_project(client, "busy")
    create_version(client, busy["id"])
    body = _task_body(project="busy", version="v1.2.3")
    task = client.post(f"{R}/tasks", json=body, headers=AUTH).json()
    r = client.delete(f"{R}/projects/{busy['id']}", headers=AUTH)
    assert r.status_code == 409 and "active" in r.json()["error"]["message"]
    client.post(f"{R}/tasks/{task['id']}/stop", headers=AUTH)
    r = client.delete(f"{R}/projects/{busy['id']}", headers=AUTH)
    assert r.status_code == 409 and r.json()["error"]["details"] == {"tasks": 1}
    idle = create_project(client, "idle")
    create_version(client, idle["id"])
    config = {
        "events": ["task_stopped"],
        "channels": [{"type": "custom", "config": {"url": "http://127.0.0.1:9/x"}}],
    }
    r = client.post(f"{R}/projects/{idle['id']}/callbacks", json=config, headers=AUTH)
    assert r.status_code == 201, r.text
    assert client.delete(f"{R}/projects/{idle['id']}", headers=AUTH).status_code == 204
    assert client.get(f"{R}/projects/{idle['id']}", headers=AUTH).status_code == 404
    assert client.get(f"{R}/callbacks/{r.json()['id']}", headers=AUTH).status_code == 404
    create_project(client, "idle")  # the name is free again


def test_a_host_result_reported_twice_is_a_no_op_success(client: TestClient) -> None:
    create_project(client, "p")
    body = {**_task_body(project="p", version="v1"), "strategy": "canary", "hosts": ["a", "b"]}
    task = client.post(f"{R}/tasks", json={**body, "canary_count": 1}, headers=AUTH).json()
    report = {"results": [{"host": "a", "status": "success"}]}
    first = client.post(f"{R}/tasks/{task['id']}/report", json=report, headers=AUTH)
    assert first.status_code == 200 and first.json()["status"] == "awaiting_promotion"
    again = client.post(f"{R}/tasks/{task['id']}/report", json=report, headers=AUTH)
    assert again.status_code == 200 and again.json()["status"] == "awaiting_promotion"
    done = {"results": [{"host": "b", "status": "success"}], "status": "success"}
    client.post(f"{R}/tasks/{task['id']}/promote", headers=AUTH)
    assert client.post(f"{R}/tasks/{task['id']}/report", json=done, headers=AUTH).status_code == 200
    r = client.post(f"{R}/tasks/{task['id']}/report", json=done, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "success"
    r = client.post(
        f"{R}/tasks/{task['id']}/report",
        json={"results": [{"host": "b", "status": "failed"}]},
        headers=AUTH,
    )
    assert r.status_code == 409


def test_deleting_a_project_takes_its_destinations_sources_and_mutes_along(
    client: TestClient,
) -> None:
    project = create_project(client, "short-lived")
    pid = project["id"]
    room = {"name": "room", "type": "custom", "config": {"url": "http://127.0.0.1:9/room"}}
    r = client.post(f"{R}/projects/{pid}/destinations", json=room, headers=AUTH)
    assert r.status_code == 201, r.text
    dest = r.json()["id"]
    config = {"events": ["task_stopped"], "channels": [{"destination_id": dest}]}
    r = client.post(f"{R}/projects/{pid}/callbacks", json=config, headers=AUTH)
    assert r.status_code == 201, r.text
    source = {"kind": "github", "name": "gh"}
    r = client.post(f"{R}/projects/{pid}/inbound-sources", json=source, headers=AUTH)
    assert r.status_code == 201, r.text
    mute = {"scope": {"project_id": pid}, "duration": "1h", "reason": "freeze"}
    r = client.post("/api/v1/mutes", json=mute, headers=AUTH)
    assert r.status_code == 201, r.text
    kept = create_project(client, "kept")
    mute["scope"] = {"project_id": kept["id"]}
    assert client.post("/api/v1/mutes", json=mute, headers=AUTH).status_code == 201
    assert client.delete(f"{R}/projects/{pid}", headers=AUTH).status_code == 204
    assert client.get(f"{R}/destinations/{dest}", headers=AUTH).status_code == 404
    windows = client.get("/api/v1/mutes", headers=AUTH).json()
    assert len(windows) == 1 and all(pid not in (m["scope_id"], m["project_id"]) for m in windows)

"""The role matrix over every route: admin, maintainer of A, viewer of A, maintainer of B, no
token, revoked token. Each route is called with valid input on project A's resources; a token
that may not read project A gets 404 for them, exactly as for unknown ids."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.access.roles import Principal, Role
from herald.api.app import create_app
from herald.bootstrap import Container
from tests.integration.api.helpers import AUTH

PUBLIC = {("GET", "/healthz"), ("GET", "/metrics")}
# Authenticated by the platform's signature, never by an API token: 401 for everyone unsigned.
SIGNED = {("POST", "/api/v1/inbound/{source_id}")}
_NAMES = itertools.count()
ADMIN_ONLY = {
    ("POST", "/api/v1/release/projects"),
    ("DELETE", "/api/v1/release/projects/{project_id}"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("GET", "/api/v1/release/destinations"),
    ("POST", "/api/v1/release/destinations"),
    ("GET", "/api/v1/release/rules"),
    ("POST", "/api/v1/release/rules"),
}
ADMIN_CHANGES = {  # a project's settings only admins change: others who may read it get 403
    ("PUT", "/api/v1/release/projects/{project_id}/labels"),
}
LISTINGS = {  # readable by anyone with a token; filtered to what the caller may see
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/release/projects"),
    ("GET", "/api/v1/release/tasks"),
    ("GET", "/api/v1/release/callbacks"),
    ("GET", "/api/v1/release/callbacks/history"),
    ("GET", "/api/v1/release/callbacks/stats"),
    ("GET", "/api/v1/release/callbacks/targets"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/mutes"),
    ("GET", "/api/v1/channel-types"),  # no project data at all
}


_ADMIN = Principal("t-admin", "admin", Role.ADMIN, frozenset())


@dataclass
class World:
    client: TestClient
    ids: dict[str, str]
    tokens: dict[str, str | None]


def _room(name: str = "room") -> dict[str, Any]:
    return {"name": name, "type": "custom", "config": {"url": "http://127.0.0.1:9/room"}}


def _custom(url: str = "http://127.0.0.1:9/herald") -> dict[str, Any]:
    return {
        "name": "ops",
        "events": ["task_stopped"],
        "channels": [{"type": "custom", "config": {"url": url}}],
    }


@pytest.fixture
def world(container: Container) -> Iterator[World]:
    c = container
    with TestClient(create_app(c)) as client:
        ids: dict[str, str] = {}
        for name in ("A", "B"):
            project = c.catalog.create_project(f"project-{name}", "")
            version = c.catalog.create_version(project.id, "v1", "")
            ids[f"project_{name}"], ids[f"version_{name}"] = project.id, version.id
        a = ids["project_A"]
        from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
        from herald.publishing.config_inputs import ConfigIn

        config = c.callbacks.create(a, ConfigIn.model_validate(_custom()), None)
        spec = TaskSpec(
            a, ids["version_A"], TaskType.DEPLOY, Strategy.ROLLING, Environment.STAGING, ["h1"]
        )
        task = c.release.create_task(spec)
        source = c.inbound.create_source(a, "github", "gh", None, _ADMIN)
        kept = c.inbound.create_source(a, "github", "gh-kept", None, _ADMIN)  # never deleted
        ids.update(config_id=config.id, task_id=task.id, source_id=source.id, kept=kept.id)
        from herald.domain.mutes import MuteScope
        from herald.history.mute_windows import MuteRequest

        admin = c.tokens.authenticate(AUTH["Authorization"].split()[1])
        assert admin is not None
        window = c.mutes.create(
            MuteRequest(MuteScope.CONFIG, config.id, "why", duration="1h"), admin
        )
        ids.update(mute_id=window.id)
        from herald.publishing.destination_inputs import DestinationIn

        room = c.destinations.create(a, DestinationIn.model_validate(_room()), None)
        ids.update(destination_id=room.id)
        tokens: dict[str, str | None] = {"admin": AUTH["Authorization"].split()[1], "none": None}
        for label, role, projects in (
            ("maintainer_A", Role.MAINTAINER, [a]),
            ("viewer_A", Role.VIEWER, [a]),
            ("maintainer_B", Role.MAINTAINER, [ids["project_B"]]),
            ("revoked", Role.MAINTAINER, [a]),
        ):
            issued = c.tokens.create(label, role, projects, None)
            tokens[label] = issued.token
            if label == "revoked":
                c.tokens.revoke(issued.id, None)
        victim = c.tokens.create("victim", Role.VIEWER, [a], None)
        ids["token_id"] = victim.id
        yield World(client, ids, tokens)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    )


def _call(world: World, method: str, path: str, who: str) -> int:
    ids = world.ids
    url = path.format(
        project_id=ids["project_A"],
        config_id=ids["config_id"],
        task_id=ids["task_id"],
        token_id=ids["token_id"],
        mute_id=ids["mute_id"],
        destination_id=ids["destination_id"],
        delivery_id="00000000-0000-7000-8000-000000000000",
        name="project-A" if path.endswith("/by-name/{name}") else "v-put",
        source_id=ids["kept" if (method, path) in SIGNED else "source_id"],
    )
    token = world.tokens[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = _body(method, path, ids)
    return world.client.request(method, url, json=body, headers=headers).status_code


def _body(method: str, path: str, ids: dict[str, str]) -> Any:
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/release/projects"): {"name": f"p-{len(ids)}-{id(ids) % 997}"},
        ("POST", "/api/v1/release/projects/{project_id}/versions"): {"name": "v-new"},
        ("POST", "/api/v1/release/tasks"): {
            "project_id": ids["project_A"],
            "version_id": ids["version_A"],
            "strategy": "rolling",
            "environment": "staging",
            "hosts": ["h9"],
        },
        ("POST", "/api/v1/release/projects/{project_id}/callbacks"): _custom(),
        ("POST", "/api/v1/release/projects/{project_id}/callbacks/preview"): {"config": _custom()},
        ("PUT", "/api/v1/release/callbacks/{config_id}"): _custom("https://hooks.example.com/v2"),
        ("POST", "/api/v1/release/tasks/{task_id}/report"): {"results": []},
        ("POST", "/api/v1/release/projects/{project_id}/inbound-sources"): {
            "kind": "gitlab",
            "name": f"source-{next(_NAMES)}",
        },
        ("POST", "/api/v1/tokens"): {"name": "t", "role": "viewer", "projects": [ids["project_A"]]},
        ("PATCH", "/api/v1/release/projects/{project_id}"): {"description": "changed"},
        ("POST", "/api/v1/events"): {
            "project_id": ids["project_A"],
            "version": "v1",
            "environment": "staging",
            "run_id": "run-1",
            "event": "rollout_started",
        },
        ("POST", "/api/v1/mutes"): {
            "scope": {"config_id": ids["config_id"]},
            "duration": "1h",
            "reason": "deploy freeze",
        },
        ("POST", "/api/v1/release/destinations"): _room("org-room"),
        ("POST", "/api/v1/release/projects/{project_id}/destinations"): _room("a-room"),
        ("PUT", "/api/v1/release/destinations/{destination_id}"): _room("renamed"),
        ("POST", "/api/v1/release/rules"): _custom(),
        ("PUT", "/api/v1/release/projects/{project_id}/labels"): {"labels": {"tier": "prod"}},
    }
    return bodies.get((method, path)) if method in ("POST", "PUT", "PATCH") else None


@pytest.mark.parametrize(
    "who", ["admin", "maintainer_A", "viewer_A", "maintainer_B", "none", "revoked"]
)
def test_role_matrix(world: World, who: str) -> None:
    problems = []
    for method, path in _routes(world.client):
        if path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        status = _call(world, method, path, who)
        expected = _expected(method, path, who)
        if expected == "allowed" and status in (401, 403):
            problems.append(f"{who} {method} {path}: {status}, wanted access")
        elif expected in (401, 403, 404) and status != expected:
            problems.append(f"{who} {method} {path}: {status}, wanted {expected}")
    assert problems == []


def _expected(method: str, path: str, who: str) -> int | str:
    if (method, path) in SIGNED:
        return 401
    if (method, path) in PUBLIC:
        return "allowed"
    if who in ("none", "revoked"):
        return 401
    if who == "admin":
        return "allowed"
    if (method, path) == ("DELETE", "/api/v1/release/projects/{project_id}"):
        return 404 if who == "maintainer_B" else 403  # another project's: as if unknown
    if (method, path) in ADMIN_ONLY:
        return 403
    if (method, path) in ADMIN_CHANGES:
        return 403 if who != "maintainer_B" else 404
    if (method, path) in LISTINGS:
        return "allowed"
    if path.startswith("/api/v1/release/callbacks/history/{delivery_id}"):
        return "allowed"  # an unknown delivery is a 404 for anyone: nothing to leak
    # Previewing a saved config renders it without sending or changing anything: a read.
    is_write = method != "GET" and path != "/api/v1/release/callbacks/{config_id}/preview"
    if who == "maintainer_A":
        return "allowed"
    if who == "viewer_A":
        return 403 if is_write else "allowed"
    return 404  # maintainer of B on A's resources: as if they did not exist


def test_listings_show_only_what_the_caller_may_see(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['maintainer_B']}"}
    for path in (
        "/api/v1/release/projects",
        "/api/v1/release/tasks",
        "/api/v1/release/callbacks",
        "/api/v1/release/callbacks/history",
        "/api/v1/audit",
    ):
        items = world.client.get(path, headers=headers).json()["items"]
        assert all(world.ids["project_A"] not in str(item) for item in items), path
    mine = world.client.get("/api/v1/release/projects", headers=headers).json()["items"]
    assert [p["id"] for p in mine] == [world.ids["project_B"]]


def test_forbidden_is_403_with_the_error_shape(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['viewer_A']}"}
    r = world.client.delete(f"/api/v1/release/callbacks/{world.ids['config_id']}", headers=headers)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden" and "viewer" in r.json()["error"]["message"]


def test_tokens_are_shown_once_and_stored_hashed(world: World, container: Container) -> None:
    r = world.client.post("/api/v1/tokens", json={"name": "ci", "role": "admin"}, headers=AUTH)
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("hrld_")
    listed = world.client.get("/api/v1/tokens", headers=AUTH).json()
    assert token not in str(listed)
    import sqlalchemy as sa

    with container.db.read() as conn:
        dump = str(conn.execute(sa.text("SELECT * FROM api_tokens")).all())
    assert token not in dump


def test_audit_log_records_who_changed_which_config(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['maintainer_A']}"}
    cid = world.ids["config_id"]
    r = world.client.put(
        f"/api/v1/release/callbacks/{cid}",
        json=_custom("https://hooks.example.com/new?token=s3cr3t-value-1234"),
        headers=headers,
    )
    assert r.status_code == 200, r.text
    entries = world.client.get(f"/api/v1/audit?resource_id={cid}", headers=AUTH).json()["items"]
    update = entries[0]
    assert update["action"] == "callback.update" and update["actor_name"] == "maintainer_A"
    assert update["before"]["channels"][0]["config"]["url"] == "http://127.0.0.1:9/herald"
    assert "s3cr3t-value-1234" not in str(entries)


def test_whoami(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['viewer_A']}"}
    me = world.client.get("/api/v1/me", headers=headers).json()
    assert me["name"] == "viewer_A" and me["role"] == "viewer"
    assert me["projects"] == [world.ids["project_A"]]

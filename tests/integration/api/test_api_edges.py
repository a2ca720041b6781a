"""API contract edges (issue 9, the smaller ones): cursors Herald never issued, 405's `Allow`,
ids of projects a token may not read, and the last admin token."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.access.roles import Principal, Role
from herald.api.app import create_app
from herald.bootstrap import Container
from herald.domain.mutes import MuteScope
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.history.mute_windows import MuteRequest
from herald.publishing.config_inputs import ConfigIn
from herald.store import fanout as delivery
from tests.integration.api.helpers import AUTH

R = "/api/v1/release"
UNKNOWN = "01a00000-0000-7000-8000-000000000000"


@dataclass
class World:
    client: TestClient
    c: Container
    ids: dict[str, str]
    headers: dict[str, dict[str, str]]
    spec: dict[str, Any]

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, ops in self.spec["paths"].items():
            for method, op in ops.items():
                yield method.upper(), path, op


def _custom() -> dict[str, Any]:
    return {
        "name": "ops",
        "events": ["task_stopped"],
        "channels": [{"type": "custom", "config": {"url": "http://127.0.0.1:9/herald"}}],
    }


@pytest.fixture
def world(container: Container) -> Iterator[World]:
    c = container
    ids: dict[str, str] = {}
    for name in ("A", "B"):
        project = c.catalog.create_project(f"project-{name}", "")
        version = c.catalog.create_version(project.id, "v1", "")
        ids[f"project_{name}"], ids[f"version_{name}"] = project.id, version.id
    a = ids["project_A"]
    ids["config_id"] = c.callbacks.create(a, ConfigIn.model_validate(_custom()), None).id
    admin = Principal("t-admin", "admin", Role.ADMIN, frozenset())
    ids["source_id"] = c.inbound.create_source(a, "flux", "flux", None, admin).id
    from herald.publishing.destination_inputs import DestinationIn

    room = {"name": "room", "type": "custom", "config": {"url": "http://127.0.0.1:9/room"}}
    ids["destination_id"] = c.destinations.create(a, DestinationIn.model_validate(room), None).id
    spec = TaskSpec(
        a, ids["version_A"], TaskType.DEPLOY, Strategy.ROLLING, Environment.STAGING, ["h1"]
    )
    task = c.release.create_task(spec)
    c.release.stop(task.id, "seed")  # a task_stopped event: one delivery to the config's channel
    with c.db.transaction() as uow:
        delivery.fan_out(uow.conn, c.clock.now(), 3)
    rows = c.history.deliveries(delivery_filter(), None, 10)
    ids.update(task_id=task.id, delivery_id=rows[0].id)
    window = MuteRequest(MuteScope.CONFIG, ids["config_id"], "quiet", duration="1h")
    ids["mute_id"] = c.mutes.create(window, admin).id
    headers = {"admin": AUTH}
    for label, role, scope in (
        ("maintainer_A", Role.MAINTAINER, "project_A"),
        ("viewer_A", Role.VIEWER, "project_A"),
        ("maintainer_B", Role.MAINTAINER, "project_B"),
    ):
        issued = c.tokens.create(label, role, [ids[scope]], None)
        headers[label] = {"Authorization": f"Bearer {issued.token}"}
        ids[f"token_{label}"] = issued.id
    with TestClient(create_app(c)) as client:
        yield World(client, c, ids, headers, client.get("/openapi.json").json())


def delivery_filter() -> Any:
    from herald.history.reads import HistoryFilter

    return HistoryFilter()


def _url(path: str, ids: dict[str, str], **override: str) -> str:
    values = {
        "project_id": ids["project_A"],
        "task_id": ids["task_id"],
        "config_id": ids["config_id"],
        "delivery_id": ids["delivery_id"],
        "token_id": ids["token_viewer_A"],
        "name": "v1",
        "source_id": ids["source_id"],
        "mute_id": ids["mute_id"],
        "destination_id": ids["destination_id"],
    }
    return path.format(**{**values, **override})


# -- cursors --------------------------------------------------------------------------------


def _paginated(world: World) -> list[str]:
    return [
        path
        for method, path, op in world.operations()
        if method == "GET" and any(p["name"] == "cursor" for p in op.get("parameters", []))
    ]


def test_cursors_herald_never_issued_are_a_400_on_every_paginated_route(world: World) -> None:
    handmade = base64.urlsafe_b64encode(UNKNOWN.encode()).decode().rstrip("=")
    paths = _paginated(world)
    assert len(paths) >= 9
    problems = []
    for path in paths:
        for cursor in (handmade, "garbage", "AAAA", handmade[:-2]):
            r = world.client.get(_url(path, world.ids), params={"cursor": cursor}, headers=AUTH)
            error = r.json().get("error") or {}
            if r.status_code != 400 or "next_cursor of the previous page" not in error.get(
                "message", ""
            ):
                problems.append(f"{path} cursor={cursor!r}: {r.status_code} {r.text[:120]}")
    assert problems == []


def test_issued_cursors_page_through_every_item(world: World) -> None:
    for i in range(3):
        world.c.catalog.create_project(f"more-{i}", "")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = world.client.get(f"{R}/projects", params=params, headers=AUTH).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


# -- 405 ------------------------------------------------------------------------------------


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


def test_405_allows_every_method_the_path_serves(world: World) -> None:
    documented: dict[str, set[str]] = {}
    for method, path, _ in world.operations():
        documented.setdefault(path, set()).add(method)
    problems = []
    for path in documented:
        url = _url(path, world.ids)
        expected = set().union(
            *(methods for p, methods in documented.items() if _template_regex(p).match(url))
        )
        r = world.client.request("TRACE", url, headers=AUTH)  # a method no route serves
        allowed = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
        if r.status_code != 405 or allowed != expected:
            problems.append(f"TRACE {path}: {r.status_code}, Allow {allowed}, wanted {expected}")
        elif r.json()["error"]["code"] != "method_not_allowed":
            problems.append(f"TRACE {path}: {r.text}")
    assert problems == []
    r = world.client.delete(f"{R}/tasks", headers=AUTH)
    assert r.headers["allow"] == "GET, POST"


# -- ids of projects the token may not read -------------------------------------------------


def _body(method: str, path: str, ids: dict[str, str]) -> Any:
    if method == "PATCH":
        return {"description": "changed"}
    if method == "PUT" and "/versions/" in path:
        return {"description": "put"}
    if path.endswith(("/destinations", "/destinations/{destination_id}")) and method != "GET":
        return {"name": "room", "type": "custom", "config": {"url": "http://127.0.0.1:9/room"}}
    if path.endswith("/labels"):
        return {"labels": {"tier": "production"}}
    if path.endswith("/report"):
        return {"results": []}
    if (path.endswith("/callbacks") and method == "POST") or method == "PUT":
        return _custom()
    if path.endswith("/projects/{project_id}/callbacks/preview"):
        return {"config": _custom()}
    if path.endswith("/versions") and method == "POST":
        return {"name": "v9"}
    if path.endswith("/inbound-sources") and method == "POST":
        return {"kind": "github", "name": "gh-9"}
    return None


def _id_routes(world: World) -> Iterator[tuple[str, str, str]]:
    for method, path, op in world.operations():
        # Names (a project's, a version's) are not ids; by-name lookups have their own tests.
        names = [
            p["name"] for p in op.get("parameters", []) if p["in"] == "path" and p["name"] != "name"
        ]
        # Tokens are admin-only, not project resources; the inbound receiver answers the
        # platform's signature, not tokens. A nested resource is named by its project first.
        if names and names != ["token_id"] and not path.startswith("/api/v1/inbound/"):
            yield method, path, names[0]


def test_another_projects_ids_answer_exactly_as_unknown_ids(world: World) -> None:
    routes = list(_id_routes(world))
    assert len(routes) >= 20
    problems = []
    for method, path, name in routes:
        body = _body(method, path, world.ids)
        foreign = world.client.request(
            method, _url(path, world.ids), json=body, headers=world.headers["maintainer_B"]
        )
        unknown = world.client.request(
            method, _url(path, world.ids, **{name: UNKNOWN}), json=body, headers=AUTH
        )
        real_id = _url(f"{{{name}}}", world.ids)
        wanted = unknown.text.replace(UNKNOWN, real_id)
        if (foreign.status_code, foreign.text) != (404, wanted) or unknown.status_code != 404:
            problems.append(f"{method} {path}: {foreign.status_code} {foreign.text[:150]}")
    assert problems == []


def test_a_token_that_may_read_but_not_change_still_gets_403(world: World) -> None:
    viewer = world.headers["viewer_A"]
    r = world.client.post(f"{R}/tasks/{world.ids['task_id']}/start", headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = world.client.get(f"{R}/tasks/{world.ids['task_id']}", headers=viewer)
    assert r.status_code == 200


def test_body_ids_of_other_projects_answer_as_unknown(world: World) -> None:
    ids, b = world.ids, world.headers["maintainer_B"]
    body = {"strategy": "rolling", "environment": "staging", "hosts": ["h1"]}
    r = world.client.post(
        f"{R}/tasks",
        json={**body, "project_id": ids["project_A"], "version_id": ids["version_A"]},
        headers=b,
    )
    assert r.status_code == 404
    assert r.json()["error"]["message"] == f"project {ids['project_A']} does not exist"
    r = world.client.post(
        f"{R}/tasks",
        json={**body, "project_id": ids["project_B"], "version_id": ids["version_A"]},
        headers=b,
    )
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "not_found",
        "message": f"version {ids['version_A']} does not exist",
        "details": {"version_id": ids["version_A"]},
    }


def test_filters_on_projects_the_token_may_not_read_match_nothing(world: World) -> None:
    b, a = world.headers["maintainer_B"], world.ids["project_A"]
    for path in ("tasks", "callbacks", "callbacks/history"):
        r = world.client.get(f"{R}/{path}", params={"project_id": a}, headers=b)
        assert (r.status_code, r.json()["items"]) == (200, []), path
    r = world.client.get(f"{R}/callbacks/stats", params={"project_id": a}, headers=b)
    assert (r.status_code, r.json()) == (200, [])


# -- the last admin token -------------------------------------------------------------------


def test_the_last_active_admin_token_cannot_be_revoked(world: World) -> None:
    me = world.client.get("/api/v1/me", headers=AUTH).json()["token_id"]
    r = world.client.delete(f"/api/v1/tokens/{me}", headers=AUTH)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "conflict"
    assert "create another admin token first" in error["message"].lower()
    assert world.client.get("/api/v1/me", headers=AUTH).status_code == 200  # still works
    second = world.client.post(
        "/api/v1/tokens", json={"name": "admin-2", "role": "admin"}, headers=AUTH
    ).json()
    assert world.client.delete(f"/api/v1/tokens/{me}", headers=AUTH).status_code == 204
    other = {"Authorization": f"Bearer {second['token']}"}
    r = world.client.delete(f"/api/v1/tokens/{second['id']}", headers=other)
    assert r.status_code == 409
    viewer = world.ids["token_viewer_A"]
    assert world.client.delete(f"/api/v1/tokens/{viewer}", headers=other).status_code == 204

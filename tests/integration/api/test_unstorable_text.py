"""Text no store can hold (NUL, unpaired surrogates) is refused the same way on every route and
both stores: a 4xx in the one error shape, never a 500 (PostgreSQL cannot store NUL; SQLite took
it), and nothing is stored.

The walk covers every operation of the OpenAPI document: NUL in each path parameter, in each
query parameter, and in each string field of the JSON body (every string of a valid body, object
keys included, plus every string property the body's schema declares).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from herald.publishing.config_inputs import ConfigIn
from herald.publishing.destination_inputs import DestinationIn
from tests.integration.api.helpers import AUTH

NUL = "a\x00b"
SURROGATE = "a\ud800b"


@dataclass
class World:
    client: TestClient
    ids: dict[str, str]
    spec: dict[str, Any]


def _config() -> dict[str, Any]:
    return {
        "name": "ops",
        "events": ["task_stopped"],
        "channels": [
            {
                "type": "custom",
                "config": {
                    "url": "http://127.0.0.1:9/hook",
                    "headers": {"X-Team": "payments"},
                },
            }
        ],
        "templates": {"default": {"title": "{{ title }}", "body": "{{ reason }}"}},
    }


@pytest.fixture
def world(container: Container) -> Iterator[World]:
    c = container
    project = c.catalog.create_project("nul-project", "")
    version = c.catalog.create_version(project.id, "v1", "")
    config = c.callbacks.create(project.id, ConfigIn.model_validate(_config()), None)
    spec = TaskSpec(
        project.id, version.id, TaskType.DEPLOY, Strategy.ROLLING, Environment.STAGING, ["h1"]
    )
    task = c.release.create_task(spec)
    ids = {
        "project_id": project.id,
        "version_id": version.id,
        "config_id": config.id,
        "task_id": task.id,
        "token_id": c.tokens.create("victim", Role.VIEWER, [project.id], None).id,
        "delivery_id": "00000000-0000-7000-8000-000000000000",
        "destination_id": c.destinations.create(
            project.id, DestinationIn.model_validate(_room("room")), None
        ).id,
    }
    # A 500 is an answer to report, not an exception to stop the walk at.
    with TestClient(create_app(c), raise_server_exceptions=False) as client:
        yield World(client, ids, client.get("/openapi.json").json())


def _bodies(ids: dict[str, str]) -> dict[tuple[str, str], Any]:
    """A valid body for every operation that takes one."""
    p = "/api/v1/release"
    return {
        ("POST", f"{p}/projects"): {"name": "p2", "description": "d"},
        ("POST", f"{p}/projects/{{project_id}}/versions"): {"name": "v2", "description": "d"},
        ("POST", f"{p}/tasks"): {
            "project_id": ids["project_id"],
            "version_id": ids["version_id"],
            "strategy": "rolling",
            "environment": "staging",
            "hosts": ["h9"],
            "executor": {"type": "simulated", "host_seconds": 0.1, "fail_hosts": ["h9"]},
            "context": {"operator": "o", "labels": {"k": "v"}},
            "run_id": "run-1",
        },
        ("PATCH", f"{p}/projects/{{project_id}}"): {"name": "p3", "environments": ["qa"]},
        ("POST", "/api/v1/events"): {
            "project_id": ids["project_id"],
            "version": "v9",
            "environment": "staging",
            "run_id": "run-2",
            "event": "task_failed",
            "hosts": ["h1"],
            "failed_hosts": ["h1"],
            "reason": "r",
            "context": {"operator": "o", "labels": {"k": "v"}},
        },
        ("PUT", f"{p}/projects/{{project_id}}/versions/{{name}}"): {"description": "d"},
        ("POST", f"{p}/tasks/{{task_id}}/stop"): {"reason": "because"},
        ("POST", f"{p}/tasks/{{task_id}}/report"): {
            "results": [{"host": "h1", "status": "success", "output": "ok"}],
            "status": "running",
            "reason": "why",
        },
        ("POST", f"{p}/projects/{{project_id}}/callbacks"): _config(),
        ("POST", f"{p}/projects/{{project_id}}/callbacks/preview"): {
            "event_type": "task_failed",
            "config": _config(),
        },
        ("PUT", f"{p}/callbacks/{{config_id}}"): _config(),
        ("POST", f"{p}/callbacks/{{config_id}}/preview"): {
            "event_type": "task_failed",
            "config": _config(),
        },
        ("POST", f"{p}/callbacks/{{config_id}}/test"): {
            "event_type": "task_failed",
            "channel_id": "00000000-0000-7000-8000-000000000000",
        },
        ("POST", f"{p}/projects/{{project_id}}/inbound-sources"): {
            "kind": "github",
            "name": "gh",
            "secret": "a-shared-secret-of-some-length",
        },
        ("POST", "/api/v1/tokens"): {
            "name": "t",
            "role": "viewer",
            "projects": [ids["project_id"]],
        },
        ("POST", "/api/v1/mutes"): {
            "scope": {"config_id": ids["config_id"]},
            "duration": "1h",
            "reason": "migration",
        },
        ("POST", f"{p}/destinations"): _room("org-room"),
        ("POST", f"{p}/projects/{{project_id}}/destinations"): _room("project-room"),
        ("PUT", f"{p}/destinations/{{destination_id}}"): _room("renamed-room"),
        ("POST", f"{p}/rules"): {**_config(), "project_labels": {"tier": "prod"}},
        ("PUT", f"{p}/projects/{{project_id}}/labels"): {"labels": {"tier": "prod"}},
    }


def _room(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "custom",
        "config": {"url": "http://127.0.0.1:9/room", "headers": {"X-Team": "payments"}},
    }


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield method.upper(), path, op


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _string_paths(
    spec: dict[str, Any], schema: dict[str, Any], path: tuple[str, ...] = (), depth: int = 0
) -> Iterator[tuple[str, ...]]:
    """Paths of the string properties a body schema declares (list items as index 0)."""
    schema = _resolve(spec, schema)
    if depth > 6:
        return
    if schema.get("type") == "string" and path:
        yield path
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _string_paths(spec, option, path, depth + 1)
    for name, prop in schema.get("properties", {}).items():
        yield from _string_paths(spec, prop, (*path, name), depth + 1)
    if schema.get("type") == "array" and "items" in schema:
        yield from _string_paths(spec, schema["items"], (*path, "0"), depth + 1)


def _leaf_paths(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths of every string in a body, and of every object key (marked by a leading '*')."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, f"*{key}")
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaf_paths(item, (*path, str(i)))


def _with(body: Any, path: tuple[str, ...], text: str) -> Any:
    """`body` with the string at `path` (or the key, for '*key') replaced by `text`."""
    out = copy.deepcopy(body) if body is not None else {}
    node = out
    for i, part in enumerate(path[:-1]):
        nxt_is_index = path[i + 1].isdigit()
        if isinstance(node, list):
            while len(node) <= int(part):
                node.append({} if not nxt_is_index else [])
            if not isinstance(node[int(part)], (dict, list)):
                node[int(part)] = {} if not nxt_is_index else []
            node = node[int(part)]
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = [] if nxt_is_index else {}
            node = node[part]
    last = path[-1]
    if last.startswith("*"):
        node[text] = node.pop(last[1:])
    elif isinstance(node, list):
        while len(node) <= int(last):
            node.append("")
        node[int(last)] = text
    else:
        node[last] = text
    return out


def _cases(world: World, text: str) -> Iterator[tuple[str, str, str, dict[str, str], Any]]:
    """(what, method, url, query, body) with `text` in one place each."""
    bodies = _bodies(world.ids)
    for method, path, op in _operations(world.spec):
        params = op.get("parameters", [])
        base = bodies.get((method, path))
        values = {p["name"]: world.ids.get(p["name"], "x") for p in params if p["in"] == "path"}
        for param in params:
            if param["in"] == "path" and text == NUL:
                url = path.format(**{**values, param["name"]: quote(text, safe="")})
                yield f"path {param['name']}", method, url, {}, base
            elif param["in"] == "query" and text == NUL:
                url = path.format(**values)
                yield f"query {param['name']}", method, url, {param["name"]: text}, base
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "schema" not in schema:
            continue
        assert base is not None, f"no valid body for {method} {path}: add one to _bodies"
        declared = set(_string_paths(world.spec, schema["schema"]))
        for where in sorted(declared | set(_leaf_paths(base))):
            yield (
                f"body {'.'.join(where)}",
                method,
                path.format(**values),
                {},
                _with(base, where, text),
            )


def _walk(world: World, text: str) -> list[str]:
    problems = []
    count = 0
    for what, method, url, query, body in _cases(world, text):
        count += 1
        content = None if body is None else json.dumps(body)  # ASCII: keeps lone surrogates
        headers = {**AUTH, "Content-Type": "application/json"}
        r = world.client.request(method, url, params=query, content=content, headers=headers)
        answer = r.json() if r.headers.get("content-type") == "application/json" else None
        error = answer.get("error") if isinstance(answer, dict) else None
        if not 400 <= r.status_code < 500:
            problems.append(f"{method} {url} ({what}): {r.status_code} {r.text[:200]}")
        elif not isinstance(error, dict) or set(error) != {"code", "message", "details"}:
            problems.append(f"{method} {url} ({what}): not the error shape: {r.text[:200]}")
    assert count > 60, count  # the walk really covered the API
    return problems


def _stored_text(c: Container) -> str:
    with c.db.read() as conn:
        tables = ("projects", "versions", "tasks", "task_hosts", "callback_configs", "api_tokens")
        return "".join(str(conn.execute(sa.text(f"SELECT * FROM {t}")).all()) for t in tables)


def test_nul_anywhere_in_a_request_is_a_4xx_on_every_route(
    world: World, container: Container
) -> None:
    before = _stored_text(container)
    assert _walk(world, NUL) == []
    assert _stored_text(container) == before  # refused, and nothing else was touched


def test_unpaired_surrogates_in_bodies_are_a_4xx_on_every_route(
    world: World, container: Container
) -> None:
    before = _stored_text(container)
    assert _walk(world, SURROGATE) == []
    assert _stored_text(container) == before


def test_nul_is_refused_with_422_naming_the_field(world: World) -> None:
    task_id = world.ids["task_id"]
    cases = [
        ("POST", f"/api/v1/release/tasks/{task_id}/stop", None, {"reason": NUL}, "reason"),
        (
            "POST",
            f"/api/v1/release/projects/{world.ids['project_id']}/versions",
            None,
            {"name": "v9", "description": NUL},
            "description",
        ),
        (
            "POST",
            f"/api/v1/release/tasks/{task_id}/report",
            None,
            {"results": [{"host": "h1", "status": "success", "output": NUL}]},
            "results.0.output",
        ),
        ("GET", "/api/v1/release/tasks/a%00b", None, None, "path.task_id"),
        ("GET", "/api/v1/release/tasks", {"project_id": NUL}, None, "query.project_id"),
        (
            "GET",
            "/api/v1/release/callbacks/history",
            {"channel_type": NUL},
            None,
            "query.channel_type",
        ),
    ]
    for method, url, query, body, field in cases:
        r = world.client.request(method, url, params=query, json=body, headers=AUTH)
        assert r.status_code == 422, (url, r.text)
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert error["message"] == f"{field}: must not contain the NUL character (U+0000)"
        assert error["details"][0]["field"] == field

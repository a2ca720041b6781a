"""Mute windows over HTTP: create with a duration, list active ones with what they hold,
release or drop over the API, end early; bad input gets the one error shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from tests.integration.api.helpers import AUTH

API = "/api/v1/release"


@pytest.fixture
def world(container: Container) -> Iterator[tuple[TestClient, FakePlatforms, dict[str, str]]]:
    with (
        FakePlatformsThread() as fake,
        TestClient(create_app(container, background=[container.worker().run])) as client,
    ):
        fake.set_endpoint("room", Behaviour.ok())
        project = client.post(f"{API}/projects", json={"name": "muted"}, headers=AUTH).json()
        version = client.post(
            f"{API}/projects/{project['id']}/versions", json={"name": "v1"}, headers=AUTH
        ).json()
        body = {
            "events": ["task_stopped"],
            "channels": [{"type": "custom", "config": {"url": fake.endpoint_url("room")}}],
        }
        config = client.post(
            f"{API}/projects/{project['id']}/callbacks", json=body, headers=AUTH
        ).json()
        yield (
            client,
            fake,
            {"project": project["id"], "version": version["id"], "config": config["id"]},
        )


def stop_a_task(client: TestClient, ids: dict[str, str], host: str) -> None:
    task = client.post(
        f"{API}/tasks",
        json={
            "project_id": ids["project"],
            "version_id": ids["version"],
            "strategy": "rolling",
            "environment": "staging",
            "hosts": [host],
        },
        headers=AUTH,
    ).json()
    assert client.post(f"{API}/tasks/{task['id']}/stop", headers=AUTH).status_code == 200


def history(client: TestClient, ids: dict[str, str]) -> list[dict[str, Any]]:
    page: dict[str, Any] = client.get(
        f"{API}/callbacks/{ids['config']}/history", headers=AUTH
    ).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def wait_for(client: TestClient, ids: dict[str, str], statuses: list[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        items = history(client, ids)
        if sorted(i["status"] for i in items) == statuses:
            return items
        assert time.monotonic() < deadline, [i["status"] for i in items]
        time.sleep(0.05)


def test_a_window_over_http(
    world: tuple[TestClient, FakePlatforms, dict[str, str]],
) -> None:
    client, fake, ids = world
    body = {"scope": {"config_id": ids["config"]}, "duration": "2h", "reason": "DB migration"}
    r = client.post("/api/v1/mutes", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    window = r.json()
    assert window["state"] == "active" and window["scope"] == "config"
    assert window["created_by"] == "bootstrap-admin" and window["project_id"] == ids["project"]

    stop_a_task(client, ids, "h1")
    stop_a_task(client, ids, "h2")
    held = wait_for(client, ids, ["muted", "muted"])
    assert all(i["mute_id"] == window["id"] for i in held)
    active = client.get("/api/v1/mutes?active=true", headers=AUTH).json()
    assert [(m["id"], m["held"]) for m in active] == [(window["id"], 2)]
    stats = client.get(f"{API}/callbacks/stats?project_id={ids['project']}", headers=AUTH).json()
    assert sum(s["muted"] for s in stats) == 2
    muted = client.get(f"{API}/callbacks/history?status=muted", headers=AUTH).json()["items"]
    assert len(muted) == 2

    r = client.post(f"{API}/callbacks/history/{held[0]['id']}/drop", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "dropped"
    r = client.post(f"{API}/callbacks/history/{held[0]['id']}/release", headers=AUTH)
    assert r.status_code == 409 and "not muted" in r.json()["error"]["message"]
    r = client.post(f"{API}/callbacks/history/{held[1]['id']}/resend", headers=AUTH)
    assert r.status_code == 409 and "release it" in r.json()["error"]["message"]

    ended = client.delete(f"/api/v1/mutes/{window['id']}", headers=AUTH).json()
    assert (
        ended["state"] == "ended" and ended["ended_by"] == "bootstrap-admin" and ended["held"] == 1
    )
    assert client.get("/api/v1/mutes?active=true", headers=AUTH).json() == []
    r = client.post(f"/api/v1/mutes/{window['id']}/release", headers=AUTH)
    assert r.status_code == 200 and r.json()["delivery_ids"] == [held[1]["id"]]
    wait_for(client, ids, ["dropped", "success"])
    assert len(fake.received(Platform.ENDPOINT, "room")) == 1
    final = client.get(f"/api/v1/mutes/{window['id']}", headers=AUTH).json()
    assert (final["held"], final["released"], final["dropped"]) == (0, 1, 1)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"scope": {}, "duration": "1h", "reason": "x"}, 422, "exactly one of"),
        (
            {"scope": {"config_id": "C", "project_id": "P"}, "duration": "1h", "reason": "x"},
            422,
            "exactly one of",
        ),
        ({"scope": {"config_id": "C"}, "duration": "soon", "reason": "x"}, 422, "e.g. 30m"),
        ({"scope": {"config_id": "C"}, "reason": "x"}, 422, "ends_at or duration"),
        ({"scope": {"config_id": "C"}, "duration": "1h", "reason": "  "}, 422, "reason"),
        ({"scope": {"config_id": "C"}, "duration": "1h"}, 422, "reason"),
        ({"scope": {"config_id": "unknown"}, "duration": "1h", "reason": "x"}, 404, "unknown"),
        ({"scope": {"project_id": "unknown"}, "duration": "1h", "reason": "x"}, 404, "unknown"),
    ],
)
def test_bad_windows_are_refused_with_a_message(
    world: tuple[TestClient, FakePlatforms, dict[str, str]],
    body: dict[str, Any],
    status: int,
    words: str,
) -> None:
    client, _, ids = world
    scope = {
        k: ids["config"] if v == "C" else ids["project"] if v == "P" else v
        for k, v in body["scope"].items()
    }
    r = client.post("/api/v1/mutes", json={**body, "scope": scope}, headers=AUTH)
    assert r.status_code == status, r.text
    assert words in r.text
    assert client.get("/api/v1/mutes", headers=AUTH).json() == []

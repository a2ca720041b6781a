"""Destinations, organisation rules and project labels over HTTP: scopes and roles, masked
secrets, the secret-keeping rule, references from configs, deletion while in use, health."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.access.roles import Role
from herald.api.app import create_app
from herald.bootstrap import Container
from tests.integration.api.helpers import AUTH, create_project

API = "/api/v1/release"
TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab3f9a"
SECRET = "SEC" + "c3" * 32
ROBOT = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def robot(name: str = "release-room", **extra: Any) -> dict[str, Any]:
    config = {"webhook_url": ROBOT, "sign_secret": SECRET}
    return {"name": name, "type": "dingtalk", "config": config, **extra}


def post(client: TestClient, path: str, body: Any, headers: dict[str, str] = AUTH) -> Any:
    r = client.post(f"{API}{path}", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def maintainer(c: Container, project_id: str) -> dict[str, str]:
    issued = c.tokens.create("maint", Role.MAINTAINER, [project_id], None)
    return {"Authorization": f"Bearer {issued.token}"}


def test_a_destination_is_masked_and_used_by_reference(client: TestClient) -> None:
    project = create_project(client, "shop")
    room = post(client, "/destinations", robot(rate_limit={"count": 10, "per_seconds": 60}))
    assert room["project_id"] is None and room["used_by"] == []
    assert SECRET not in str(room) and TOKEN not in str(room)
    config = post(
        client,
        f"/projects/{project['id']}/callbacks",
        {"events": ["task_failed"], "channels": [{"destination_id": room["id"]}]},
    )
    channel = config["channels"][0]
    assert channel["destination_id"] == room["id"] and channel["type"] == "dingtalk"
    assert SECRET not in str(config)
    # The config read back is sent back as it is: the reference stays a reference.
    r = client.put(f"{API}/callbacks/{config['id']}", json=config, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["channels"][0]["destination_id"] == room["id"]
    shown = client.get(f"{API}/destinations/{room['id']}", headers=AUTH).json()
    assert [u["config_id"] for u in shown["used_by"]] == [config["id"]]
    health = shown["health"]
    assert health["circuit"] == "closed" and health["last_outcome"] is None
    assert health["rate_limits"] == [{"count": 10, "per_seconds": 60.0, "used": 0}]


def test_deleting_a_destination_in_use_names_the_configs(client: TestClient) -> None:
    project = create_project(client, "shop")
    room = post(client, f"/projects/{project['id']}/destinations", robot())
    body = {"events": ["task_failed"], "channels": [{"destination_id": room["id"]}]}
    config = post(client, f"/projects/{project['id']}/callbacks", body)
    r = client.delete(f"{API}/destinations/{room['id']}", headers=AUTH)
    assert r.status_code == 409
    assert r.json()["error"]["details"]["configs"] == [config["id"]]
    client.delete(f"{API}/callbacks/{config['id']}", headers=AUTH)
    assert client.delete(f"{API}/destinations/{room['id']}", headers=AUTH).status_code == 204
    assert client.get(f"{API}/destinations/{room['id']}", headers=AUTH).status_code == 404


def test_a_new_host_needs_the_secret_again(client: TestClient) -> None:
    room = post(client, "/destinations", robot())
    moved = {**room, "config": {**room["config"], "webhook_url": ROBOT.replace("oapi", "api")}}
    r = client.put(f"{API}/destinations/{room['id']}", json=moved, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["type"] == "secret_not_kept"
    renamed = client.put(
        f"{API}/destinations/{room['id']}", json={**room, "name": "ops"}, headers=AUTH
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "ops"
    retyped = client.put(
        f"{API}/destinations/{room['id']}", json={**room, "type": "feishu"}, headers=AUTH
    )
    assert retyped.status_code == 422 and "cannot change" in retyped.json()["error"]["message"]


def test_scopes_a_project_config_may_use(client: TestClient, container: Container) -> None:
    shop, search = create_project(client, "shop"), create_project(client, "search")
    theirs = post(client, f"/projects/{search['id']}/destinations", robot())
    body = {"events": ["task_failed"], "channels": [{"destination_id": theirs["id"]}]}
    r = client.post(f"{API}/projects/{shop['id']}/callbacks", json=body, headers=AUTH)
    assert r.status_code == 422 and "another project" in r.json()["error"]["message"]
    missing = {"events": ["task_failed"], "channels": [{"enabled": True}]}
    r = client.post(f"{API}/projects/{shop['id']}/callbacks", json=missing, headers=AUTH)
    assert r.status_code == 422 and "destination_id" in r.text
    # A maintainer defines the project's destinations, not the organisation's.
    mine = maintainer(container, shop["id"])
    assert client.post(f"{API}/destinations", json=robot(), headers=mine).status_code == 403
    post(client, f"/projects/{shop['id']}/destinations", robot(), mine)
    r = client.post(f"{API}/projects/{shop['id']}/destinations", json=robot(), headers=mine)
    assert r.status_code == 409  # the name is taken in this project
    # The organisation's destinations are listed with the project's for its maintainers; who
    # else uses them is shown only as far as they may see.
    org = post(client, "/destinations", robot("org-room"))
    search_body = {"events": ["task_failed"], "channels": [{"destination_id": org["id"]}]}
    post(client, f"/projects/{search['id']}/callbacks", search_body)
    listed = client.get(
        f"{API}/projects/{shop['id']}/destinations", params={"include_org": "true"}, headers=mine
    ).json()["items"]
    assert sorted(d["name"] for d in listed) == ["org-room", "release-room"]
    assert [d["used_by"] for d in listed if d["id"] == org["id"]] == [[]]
    own = client.get(f"{API}/projects/{shop['id']}/destinations", headers=mine).json()["items"]
    assert [d["name"] for d in own] == ["release-room"]


def test_organisation_rules_and_labels(client: TestClient, container: Container) -> None:
    shop, docs = create_project(client, "shop"), create_project(client, "docs")
    r = client.put(
        f"{API}/projects/{shop['id']}/labels", json={"labels": {"tier": "critical"}}, headers=AUTH
    )
    assert r.status_code == 200 and r.json()["labels"] == {"tier": "critical"}
    assert client.get(f"{API}/projects/{shop['id']}", headers=AUTH).json()["labels"] == {
        "tier": "critical"
    }
    room = post(client, "/destinations", robot())
    rule = post(
        client,
        "/rules",
        {
            "name": "SRE",
            "events": ["task_failed"],
            "filters": {"environments": ["production"]},
            "project_labels": {"tier": "critical"},
            "channels": [{"destination_id": room["id"]}],
        },
    )
    assert rule["project_id"] is None and rule["project_labels"] == {"tier": "critical"}
    reach = client.get(f"{API}/projects/{shop['id']}/rules", headers=AUTH).json()
    assert [x["id"] for x in reach] == [rule["id"]]
    assert client.get(f"{API}/projects/{docs['id']}/rules", headers=AUTH).json() == []
    # A maintainer of the project sees which rules reach it, but not the rule itself.
    mine = maintainer(container, shop["id"])
    seen = client.get(f"{API}/projects/{shop['id']}/rules", headers=mine)
    assert [x["id"] for x in seen.json()] == [rule["id"]]
    assert client.get(f"{API}/callbacks/{rule['id']}", headers=mine).status_code == 404
    labelled = {
        "events": ["task_failed"],
        "project_labels": {"a": "b"},
        "channels": [{"destination_id": room["id"]}],
    }
    r = client.post(f"{API}/projects/{shop['id']}/callbacks", json=labelled, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "project_labels"
    bad = client.put(
        f"{API}/projects/{shop['id']}/labels", json={"labels": {" x": "y"}}, headers=AUTH
    )
    assert bad.status_code == 422


def test_an_organisation_rule_previews_and_test_sends(client: TestClient) -> None:
    from herald.fakeplatforms import Behaviour, FakePlatformsThread
    from herald.fakeplatforms.records import Platform

    with FakePlatformsThread() as fake:
        fake.set_endpoint("sre", Behaviour.ok())
        body = {
            "events": ["task_failed"],
            "channels": [{"type": "custom", "config": {"url": fake.endpoint_url("sre")}}],
        }
        rule = post(client, "/rules", body)
        shown = client.post(
            f"{API}/callbacks/{rule['id']}/preview",
            json={"event_type": "task_failed"},
            headers=AUTH,
        )
        assert shown.status_code == 200, shown.text
        sent = client.post(
            f"{API}/callbacks/{rule['id']}/test", json={"event_type": "task_failed"}, headers=AUTH
        )
        assert sent.status_code == 200, sent.text
        assert [r["outcome"] for r in sent.json()["results"]] == ["delivered"]
        (received,) = fake.received(Platform.ENDPOINT, "sre")
    assert received.json["project"]["name"] == "organisation"

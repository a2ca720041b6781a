"""The PRD §4.3 callback routes over HTTP: configs, validation, masking, test sends, history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.channels.dingtalk import DingTalkConfig
from herald.fakeplatforms import Behaviour, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from tests.integration.api.helpers import AUTH, create_project

DT_TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab3f9a"
DT_SECRET = "SECb90923e19e58b466481e9e7b7a5b4f108a4531abde590ad3967fb29f0eae5c68"


@pytest.fixture
def fake() -> Iterator[Any]:
    with FakePlatformsThread() as f:
        yield f


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def project(client: TestClient) -> dict[str, Any]:
    return create_project(client, "payments")


def dingtalk(fake: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "dingtalk",
        "config": {"webhook_url": fake.dingtalk_url(DT_TOKEN), "sign_secret": DT_SECRET, **extra},
    }


def config_body(*channels: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "release-room",
        "events": ["canary_started", "canary_completed", "full_completed"],
        "channels": list(channels),
        **extra,
    }


def create_config(client: TestClient, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/api/v1/release/projects/{project_id}/callbacks", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_create_get_list_update_delete(
    client: TestClient, container: Container, project: dict[str, Any], fake: Any
) -> None:
    fake.add_dingtalk_robot(DT_TOKEN, secret=DT_SECRET)
    created = create_config(client, project["id"], config_body(dingtalk(fake)))
    cid = created["id"]
    channel = created["channels"][0]
    assert channel["config"]["webhook_url"].endswith("access_token=****3f9a")
    assert channel["config"]["sign_secret"].startswith("****")
    assert created["project_id"] == project["id"] and created["enabled"] is True
    assert client.get(f"/api/v1/release/callbacks/{cid}", headers=AUTH).json()["id"] == cid
    listed = client.get(f"/api/v1/release/projects/{project['id']}/callbacks", headers=AUTH).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    assert [
        c["id"] for c in client.get("/api/v1/release/callbacks", headers=AUTH).json()["items"]
    ] == [cid]
    # Sending back the masked config keeps the stored secrets; the channel keeps its id.
    update = {
        **config_body(),
        "channels": [{**channel, "enabled": False}],
        "events": ["task_failed"],
    }
    update["channels"][0].pop("warnings")
    r = client.put(f"/api/v1/release/callbacks/{cid}", json=update, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["channels"][0]["id"] == channel["id"]
    assert r.json()["events"] == ["task_failed"]
    stored = container.callbacks.get(cid).channels[0].config
    assert isinstance(stored, DingTalkConfig)
    assert stored.sign_secret == DT_SECRET and DT_TOKEN in stored.webhook_url
    assert client.delete(f"/api/v1/release/callbacks/{cid}", headers=AUTH).status_code == 204
    assert client.get(f"/api/v1/release/callbacks/{cid}", headers=AUTH).status_code == 404


def test_history_route_is_not_captured_by_the_config_route(client: TestClient) -> None:
    r = client.get("/api/v1/release/callbacks/history", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    assert client.get("/api/v1/release/callbacks/stats", headers=AUTH).status_code == 200


BAD_CHANNELS = [
    ({"type": "feishu", "config": {}}, "channels.0.config.webhook_url"),
    ({"type": "feishu", "config": {"webhook_url": "not a url"}}, "webhook_url"),
    (
        {"type": "dingtalk", "config": {"webhook_url": "ftp://oapi.dingtalk.com/robot/send"}},
        "webhook_url",
    ),
    (
        {
            "type": "dingtalk",
            "config": {
                "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=x",
                "sign_secret": "nope",
            },
        },
        "sign_secret",
    ),
    ({"type": "carrier-pigeon", "config": {}}, "channels.0.type"),
    (
        {"type": "wechat", "config": {"corp_id": "ww1", "agent_id": "abc", "secret": "s" * 20}},
        "agent_id",
    ),
    (
        {"type": "custom", "config": {"url": "https://example.com/hook", "retry_count": -1}},
        "retry_count",
    ),
    (
        {
            "type": "custom",
            "config": {"url": "https://example.com/hook", "headers": {"X-A": "b\r\nInjected: 1"}},
        },
        "headers",
    ),
    (
        {
            "type": "custom",
            "config": {"url": "https://example.com/hook", "headers": {"Host": "evil"}},
        },
        "headers",
    ),
    ({"type": "custom", "config": {"url": "https://example.com/hook", "surprise": 1}}, "surprise"),
]


@pytest.mark.parametrize(("channel", "field"), BAD_CHANNELS)
def test_bad_channel_configs_are_422_with_the_field_named(
    client: TestClient,
    container: Container,
    project: dict[str, Any],
    channel: dict[str, Any],
    field: str,
) -> None:
    r = client.post(
        f"/api/v1/release/projects/{project['id']}/callbacks",
        json=config_body(channel),
        headers=AUTH,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert field in error["message"] or field in str(error["details"])
    with container.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM callback_configs")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM callback_channels")).scalar_one() == 0


def test_unknown_event_types_are_rejected(client: TestClient, project: dict[str, Any]) -> None:
    body = config_body({"type": "custom", "config": {"url": "https://example.com/h"}})
    body["events"] = ["canary_started", "deploy_exploded"]
    r = client.post(f"/api/v1/release/projects/{project['id']}/callbacks", json=body, headers=AUTH)
    assert r.status_code == 422 and "events" in r.text


def test_unusual_hosts_are_a_warning_not_an_error(
    client: TestClient, project: dict[str, Any]
) -> None:
    body = config_body(
        {
            "type": "feishu",
            "config": {"webhook_url": "https://open.larksuite.com/open-apis/bot/v2/hook/abc"},
        },
        {
            "type": "dingtalk",
            "config": {
                "webhook_url": "https://dingtalk-proxy.corp.example/robot/send?access_token=abc"
            },
        },
    )
    created = create_config(client, project["id"], body)
    assert created["channels"][1]["warnings"] and created["warnings"]


def test_test_send_reports_each_channel_live(
    client: TestClient, project: dict[str, Any], fake: Any
) -> None:
    fake.add_dingtalk_robot(DT_TOKEN, secret=DT_SECRET)
    fake.add_feishu_bot("fs-token", secret="right")
    fake.set_endpoint("ops", Behaviour.ok())
    body = config_body(
        dingtalk(fake),
        {
            "type": "feishu",
            "config": {"webhook_url": fake.feishu_url("fs-token"), "sign_secret": "wrong"},
        },
        {"type": "custom", "config": {"url": fake.endpoint_url("ops")}},
    )
    cid = create_config(client, project["id"], body)["id"]
    r = client.post(
        f"/api/v1/release/callbacks/{cid}/test", json={"event_type": "task_failed"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    results = {x["channel_type"]: x for x in r.json()["results"]}
    assert results["dingtalk"]["delivered"] and results["dingtalk"]["outcome"] == "delivered"
    assert results["custom"]["delivered"] and results["custom"]["http_status"] in (200, 204)
    assert results["feishu"]["outcome"] == "permanent" and results["feishu"]["code"] == "19021"
    assert all(x["latency_ms"] >= 0 for x in results.values())
    (sent,) = fake.received(Platform.DINGTALK)
    assert "发布失败" in sent.json["markdown"]["text"]
    history = client.get(f"/api/v1/release/callbacks/{cid}/history?kind=test", headers=AUTH).json()
    assert {h["status"] for h in history["items"]} == {"success", "failed"}
    assert len(history["items"]) == 3
    # Each delivery names its target, as GET /callbacks/targets keys it: three channels, three.
    assert len({h["target_key"] for h in history["items"]}) == 3
    # kind=notification leaves test sends out (the statistics page's default).
    real = client.get(f"/api/v1/release/callbacks/{cid}/history?kind=notification", headers=AUTH)
    assert real.status_code == 200 and real.json()["items"] == []
    url = f"/api/v1/release/callbacks/stats?project_id={project['id']}"
    stats = client.get(url, headers=AUTH).json()
    assert sum(row["success"] + row["failed"] for row in stats) == 3
    assert client.get(f"{url}&kind=notification", headers=AUTH).json() == []


def test_internal_literals_are_refused_at_save_time_without_egress_allowance(
    store_url: str, fake: Any
) -> None:
    from tests.conftest import make_settings

    c = Container.build(make_settings(store_url, egress_allow=[]))
    c.tokens.ensure_bootstrap_admin(AUTH["Authorization"].split()[1])
    with TestClient(create_app(c)) as client:
        project = create_project(client, "locked")
        for url in (
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://2130706433/x",
            "http://169.254.169.254/latest",
        ):
            body = config_body({"type": "custom", "config": {"url": url}})
            r = client.post(
                f"/api/v1/release/projects/{project['id']}/callbacks", json=body, headers=AUTH
            )
            assert r.status_code == 422, url
            message = r.json()["error"]["message"]
            # An odd spelling of an address is refused for its spelling first.
            assert "HERALD_EGRESS_ALLOW" in message or "write 127.0.0.1" in message, message
    c.close()


def test_the_delivery_time_guard_blocks_what_the_operator_no_longer_allows(
    store_url: str, container: Container, project: dict[str, Any], client: TestClient, fake: Any
) -> None:
    from tests.conftest import make_settings

    fake.set_endpoint("ops", Behaviour.ok())
    cid = create_config(
        client,
        project["id"],
        config_body({"type": "custom", "config": {"url": fake.endpoint_url("ops")}}),
    )["id"]
    locked = Container.build(make_settings(store_url, egress_allow=[]))
    with TestClient(create_app(locked)) as other:
        r = other.post(f"/api/v1/release/callbacks/{cid}/test", headers=AUTH)
    locked.close()
    (result,) = r.json()["results"]
    assert result["outcome"] == "blocked" and "127.0.0.1" in result["message"]
    assert fake.endpoint_stats("ops").requests == 0


def test_channel_types_describe_every_type_with_its_secrets(client: TestClient) -> None:
    assert client.get("/api/v1/channel-types").status_code == 401
    r = client.get("/api/v1/channel-types", headers=AUTH)
    assert r.status_code == 200, r.text
    items = {item["type"]: item for item in r.json()["items"]}
    assert list(items) == [
        "feishu",
        "dingtalk",
        "wechat",
        "wecom_bot",
        "custom",
        "slack",
        "discord",
        "email",
        "teams",
        "apprise",
    ]
    assert items["wecom_bot"]["label"] == {"zh": "企业微信群机器人", "en": "WeCom robot"}
    secret = {
        kind: sorted(n for n, p in item["config_schema"]["properties"].items() if p.get("secret"))
        for kind, item in items.items()
    }
    assert secret == {
        "feishu": ["sign_secret", "webhook_url"],
        "dingtalk": ["sign_secret", "webhook_url"],
        "wechat": ["secret"],
        "wecom_bot": ["webhook_url"],
        "custom": ["signing_secret"],
        "slack": ["webhook_url"],
        "discord": ["webhook_url"],
        "email": ["password"],
        "teams": ["webhook_url"],
        "apprise": ["url"],
    }
    to_user = next(f for f in items["wechat"]["fields"] if f["name"] == "to_user")
    assert to_user["send_empty"] is True
    assert items["wechat"]["config_schema"]["properties"]["to_user"]["default"] == "@all"
    assert items["dingtalk"]["capabilities"]["rate_limits"] == [{"count": 20, "per_seconds": 60.0}]

"""Issue 9, the smaller config rules, over the HTTP API: read → edit → write works as is; types
are strict; hosts are written plainly; a URL's user:password@ and an Authorization header are
not both accepted. Every refusal is a 422 in the one error shape, naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread
from tests.integration.api.helpers import AUTH, create_project

API = "/api/v1/release"


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    with FakePlatformsThread() as f:
        f.add_feishu_bot("fs-token-0123456789", secret="fs-sign-secret-0123")
        f.add_dingtalk_robot("dt-token-0123456789abcdef", secret="SECdt-sign-secret-0123")
        f.add_wecom_app("wwcorp01", "wc-app-secret-0123456789", 1000002, ["alice"])
        f.add_wecom_bot("wb-key-0123456789")
        f.set_endpoint("ops", Behaviour.ok())
        yield f


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def project_id(client: TestClient) -> str:
    return str(create_project(client, "payments-api")["id"])


def every_type(fake: FakePlatforms) -> list[dict[str, Any]]:
    return [
        {
            "type": "feishu",
            "config": {
                "webhook_url": fake.feishu_url("fs-token-0123456789"),
                "sign_secret": "fs-sign-secret-0123",
            },
        },
        {
            "type": "dingtalk",
            "config": {
                "webhook_url": fake.dingtalk_url("dt-token-0123456789abcdef"),
                "sign_secret": "SECdt-sign-secret-0123",
            },
            "rate_limit": {"count": 10, "per_seconds": 60},
        },
        {
            "type": "wechat",
            "config": {
                "corp_id": "wwcorp01",
                "agent_id": 1000002,
                "secret": "wc-app-secret-0123456789",
                "to_user": "alice",
                "api_base": fake.wecom_api_base,
            },
        },
        {"type": "wecom_bot", "config": {"webhook_url": fake.wecom_bot_url("wb-key-0123456789")}},
        {
            "type": "custom",
            "config": {
                "url": f"{fake.endpoint_url('ops')}?token=cu-query-token-0123",
                "headers": {"Authorization": "Bearer cu-bearer-0123456789", "X-Team": "payments"},
                "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            },
            "templates": {"default": {"title": "{{ project.name }}"}},
        },
    ]


def post(client: TestClient, project_id: str, channels: list[dict[str, Any]]) -> Any:
    body = {"name": "room", "events": ["task_failed"], "channels": channels}
    return client.post(f"{API}/projects/{project_id}/callbacks", json=body, headers=AUTH)


def test_a_config_read_with_get_can_be_put_back_as_it_is(
    client: TestClient, container: Container, project_id: str, fake: FakePlatforms
) -> None:
    r = post(client, project_id, every_type(fake))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    before = container.callbacks.get(cid)

    read = client.get(f"{API}/callbacks/{cid}", headers=AUTH).json()
    assert read["warnings"] and all(ch["warnings"] for ch in read["channels"][:4])  # 127.0.0.1
    read["name"] = "room, renamed"  # one field edited; the rest exactly as read
    r = client.put(f"{API}/callbacks/{cid}", json=read, headers=AUTH)

    assert r.status_code == 200, r.text
    after = container.callbacks.get(cid)
    assert after.name == "room, renamed"
    assert [ch.config for ch in after.channels] == [ch.config for ch in before.channels]
    assert [ch.id for ch in after.channels] == [ch.id for ch in before.channels]
    assert after.created_at == before.created_at and after.project_id == before.project_id
    # Read-only fields are ignored, not applied.
    forged = {**read, "id": "0" * 32, "project_id": "someone-else", "created_at": "2001-01-01"}
    r = client.put(f"{API}/callbacks/{cid}", json=forged, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == cid and r.json()["project_id"] == project_id


def custom(**config: Any) -> dict[str, Any]:
    return {"type": "custom", "config": {"url": "https://ci.example.com/hook", **config}}


# (channel, field named in the error, words of the message)
REFUSED = [
    (custom(retry_count="3"), "channels.0.config.retry_count", "valid integer"),
    (custom(retry_count=True), "channels.0.config.retry_count", "valid integer"),
    (custom(timeout="10"), "channels.0.config.timeout", "valid integer"),
    (custom(retry_interval=0), "channels.0.config.retry_interval", "at least 1 second"),
    (
        {"type": "dingtalk", "config": {"webhook_url": "https://oapi.dingtalk.com/x", "at_all": 1}},
        "channels.0.config.at_all",
        "valid boolean",
    ),
    ({**custom(), "enabled": "false"}, "channels.0.enabled", "valid boolean"),
    (
        {**custom(), "rate_limit": {"count": "3", "per_seconds": 60}},
        "channels.0.rate_limit.count",
        "valid integer",
    ),
    (
        {**custom(), "rate_limit": {"count": True, "per_seconds": 60}},
        "channels.0.rate_limit.count",
        "valid integer",
    ),
    (
        {**custom(), "rate_limit": {"count": 3, "per_seconds": "60"}},
        "channels.0.rate_limit.per_seconds",
        "valid number",
    ),
    (
        custom(url="https://ci:pw@ci.example.com/hook", headers={"Authorization": "Bearer x"}),
        "channels.0.config.headers",
        "keep one of the two",
    ),
    (custom(url="http://127%2E0%2E0%2E1/hook"), "channels.0.config.url", "percent-encoded"),
    (custom(url="http://%31%32%37.0.0.1/hook"), "channels.0.config.url", "percent-encoded"),
    (custom(url="http://0x7f000001/hook"), "channels.0.config.url", "write 127.0.0.1"),
    (custom(url="http://ci.example.com./hook"), "channels.0.config.url", "trailing dot"),
    (custom(url="http://ｌｏｃａｌｈｏｓｔ/hook"), "channels.0.config.url", "write that"),
    (
        custom(headers={"X-Team": "a"}, secret_headers=["X-Tenant"]),
        "channels.0.config.secret_headers",
        "not one of the headers",
    ),
]


@pytest.mark.parametrize(("channel", "field", "words"), REFUSED)
def test_inputs_that_used_to_be_coerced_or_accepted_are_refused_when_saved(
    client: TestClient,
    container: Container,
    project_id: str,
    channel: dict[str, Any],
    field: str,
    words: str,
) -> None:
    r = post(client, project_id, [channel])
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] in ("invalid_input", "validation_error"), error
    assert words in error["message"], error
    assert field in [d["field"] for d in error["details"]] or error["message"].startswith(field)
    with container.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM callback_channels")).scalar_one() == 0


def test_numbers_stay_numbers(client: TestClient, project_id: str) -> None:
    """An integer where a float is expected is still fine, and 3.0 is the integer 3 (as in JSON
    Schema); so is a retry interval of 1 s."""
    channel = {
        **custom(retry_interval=1, timeout=5.0),
        "rate_limit": {"count": 3.0, "per_seconds": 60},
    }
    r = post(client, project_id, [channel])
    assert r.status_code == 201, r.text
    shown = r.json()["channels"][0]
    assert shown["rate_limit"] == {"count": 3, "per_seconds": 60.0}
    assert (shown["config"]["timeout"], shown["config"]["retry_interval"]) == (5, 1)

"""Fixes that keep delivery going when parts of the setup are wrong, and config previews."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, running_fake_platforms
from herald.fakeplatforms.records import Platform
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.integration.api.helpers import AUTH
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    attempt_rows,
    custom_channel,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.mark.asyncio
async def test_a_config_encrypted_under_an_unknown_key_does_not_block_the_others(
    store_url: str, container: Container
) -> None:
    async with running_fake_platforms() as fake:
        fake.set_endpoint("old", Behaviour.ok())
        fake.set_endpoint("new", Behaviour.ok())
        project_id, version_id = make_project(container)
        add_config(container, project_id, [custom_channel(fake.endpoint_url("old"))])
        other = Container.build(
            make_settings(store_url, secret_key="a different key, also 32+ characters")
        )
        try:
            add_config(other, project_id, [custom_channel(fake.endpoint_url("new"))])
            emit_stopped_tasks(container, project_id, version_id, 3)
            async with running_worker(container):
                await eventually(lambda: fake.endpoint_stats("old").requests == 3)
                await eventually(
                    lambda: len([r for r in delivery_rows(container) if r.attempts >= 1]) == 6
                )
        finally:
            other.close()
    assert fake.endpoint_stats("new").requests == 0
    stuck = [r for r in delivery_rows(container) if r.status == "pending"]
    assert len(stuck) == 3  # kept, to be retried once the operator fixes the keys
    attempt = attempt_rows(container, stuck[0].id)[0]
    assert attempt.outcome == "retryable" and "HERALD_SECRET_KEY" in attempt.error


@pytest.mark.asyncio
async def test_channels_sharing_a_robot_get_the_strictest_limit(container: Container) -> None:
    async with running_fake_platforms() as fake:
        fake.add_dingtalk_robot("shared")
        project_id, version_id = make_project(container)
        url = fake.dingtalk_url("shared")
        add_config(
            container,
            project_id,
            [
                {"type": "dingtalk", "config": {"webhook_url": url}},
                {
                    "type": "dingtalk",
                    "config": {"webhook_url": url},
                    "rate_limit": {"count": 2, "per_seconds": 60},
                },
            ],
        )
        emit_stopped_tasks(container, project_id, version_id, 5)
        async with running_worker(container):
            await eventually(lambda: all_final(container))
        received = fake.received(Platform.DINGTALK)
    assert len(received) == 2  # one message alone, the other nine in one digest
    assert all(r.status == "success" for r in delivery_rows(container))


def test_preview_renders_every_channel_without_sending(client: TestClient) -> None:
    project = client.post("/api/v1/release/projects", json={"name": "preview"}, headers=AUTH).json()
    config = {
        "events": ["task_failed"],
        "channels": [
            {
                "type": "feishu",
                "config": {
                    "webhook_url": "http://127.0.0.1:9/open-apis/bot/v2/hook/tok-1234567890",
                    "sign_secret": "s3cret-preview",
                },
            },
            {"type": "custom", "config": {"url": "http://127.0.0.1:9/hook"}},
        ],
        "templates": {
            "task_failed": {"title": "{{ project.name }} 挂了", "body": "原因：{{ reason }}"}
        },
    }
    r = client.post(
        f"/api/v1/release/projects/{project['id']}/callbacks/preview",
        json={"event_type": "task_failed", "config": config},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    feishu, custom = r.json()
    card = feishu["body"]["card"]
    assert card["header"]["title"]["content"].endswith("preview 挂了")
    assert "原因：" in str(card) and "s3cret-preview" not in r.text
    assert "tok-1234567890" not in feishu["url"]
    assert custom["body"]["event_type"] == "task_failed"
    assert client.get("/api/v1/release/callbacks/history", headers=AUTH).json()["items"] == []


@pytest.mark.parametrize(
    ("templates", "fragment"),
    [
        ({"default": {"body": "{% for %}"}}, "templates.default.body: line 1"),
        ({"default": {"body": "{{ ''.__class__ }}"}}, "templates.default.body"),
        ({"task_failed": {"title": "{{ nope.name }}"}}, "nope"),
    ],
)
def test_bad_templates_are_rejected_when_saved(
    client: TestClient, templates: dict[str, dict[str, str]], fragment: str
) -> None:
    project = client.post("/api/v1/release/projects", json={"name": "tpl"}, headers=AUTH).json()
    body = {
        "events": ["task_failed"],
        "channels": [{"type": "custom", "config": {"url": "http://127.0.0.1:9/h"}}],
        "templates": templates,
    }
    r = client.post(f"/api/v1/release/projects/{project['id']}/callbacks", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["error"]["message"]


def test_health_reports_a_stalled_loop(container: Container, client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    container.beats.silence = 0.0
    container.beats.failed("delivery", "OperationalError: database is locked")
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "degraded"
    assert "database is locked" in r.json()["loops"]["delivery"]["last_error"]


def test_token_use_is_recorded(client: TestClient) -> None:
    client.get("/api/v1/release/projects", headers=AUTH)
    tokens = client.get("/api/v1/tokens", headers=AUTH).json()
    (admin,) = [t for t in tokens if t["name"] == "bootstrap-admin"]
    assert admin["last_used_at"] is not None


def test_admin_token_clashing_with_another_token_is_a_clear_error(container: Container) -> None:
    from herald.access.roles import Role
    from herald.domain.errors import InvalidInput

    issued = container.tokens.create("ci", Role.ADMIN, [], None)
    with pytest.raises(InvalidInput, match="already the token named 'ci'"):
        container.tokens.ensure_bootstrap_admin(issued.token)
    assert container.tokens.ensure_bootstrap_admin(ADMIN_TOKEN) is None

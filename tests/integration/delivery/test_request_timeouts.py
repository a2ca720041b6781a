"""Every request's timeout is honoured: chat channels wait `worker.request_timeout`, a custom
endpoint its own `timeout` (whatever the operator's setting)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, FakePlatformsThread
from tests.conftest import make_settings
from tests.integration.api.helpers import AUTH, create_project


def test_chat_requests_use_the_operators_timeout_and_custom_ones_their_own(store_url: str) -> None:
    c = Container.build(make_settings(store_url, worker={"request_timeout": 1.0}))
    c.tokens.ensure_bootstrap_admin(AUTH["Authorization"].split()[1])
    with FakePlatformsThread() as fake, TestClient(create_app(c)) as client:
        for name in ("slow-chat", "slow-hook"):
            fake.set_endpoint(name, Behaviour.hang(6.0))
        project = create_project(client, "timeouts")
        body = {
            "events": ["task_failed"],
            "channels": [
                # A Feishu sender posting to a receiver that never answers in time.
                {"type": "feishu", "config": {"webhook_url": fake.endpoint_url("slow-chat")}},
                {"type": "custom", "config": {"url": fake.endpoint_url("slow-hook"), "timeout": 2}},
            ],
        }
        created = client.post(
            f"/api/v1/release/projects/{project['id']}/callbacks", json=body, headers=AUTH
        )
        assert created.status_code == 201, created.text
        r = client.post(f"/api/v1/release/callbacks/{created.json()['id']}/test", headers=AUTH)
    c.close()
    assert r.status_code == 200, r.text
    results = {x["channel_type"]: x for x in r.json()["results"]}
    assert results["feishu"]["message"] == "timed out after 1s"
    assert results["custom"]["message"] == "timed out after 2s"
    for result, seconds in ((results["feishu"], 1), (results["custom"], 2)):
        assert result["outcome"] == "retryable"
        assert seconds * 1000 <= result["latency_ms"] < seconds * 1000 + 1500

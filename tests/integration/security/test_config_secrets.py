"""Issue 9, defects 3 and 4, over the HTTP API against the fake platforms.

3. Secrets stay with their destination: pointing a channel at another scheme, host or port while
   sending its secrets back masked is refused, so no test send can carry an admin's credentials
   to a server of the editor's choosing.
4. History does not rewrite what was sent: ordinary text (a header `X-Team: payments`, the
   project name in the body) is shown as sent; only secret values are masked, including headers
   marked in `secret_headers` and the path and query of a URL marked `secret_url`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.channels.custom import CustomConfig
from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from tests.integration.api.helpers import AUTH, create_project

API = "/api/v1/release"
ADMIN_BEARER = "admin-Bearer-Token-0123456789"
WHSEC = "whsec_" + base64.b64encode(b"admin-signing-key-0123456789ab").decode()
FS_TOKEN, FS_SECRET = "fsAdminHookToken0123456789", "fsAdminSignSecret0123"
DT_TOKEN, DT_SECRET = "dtAdminAccessToken0123456789ab", "SECdtAdminSignSecret0123456789"
WC_CORP, WC_SECRET = "wwadmin0001", "wcAdminCorpSecret0123456789"


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def fakes() -> Iterator[tuple[FakePlatforms, FakePlatforms]]:
    """The admin's platforms, and a server of the editor's choosing (another port)."""
    with FakePlatformsThread() as admin, FakePlatformsThread() as other:
        admin.add_feishu_bot(FS_TOKEN, secret=FS_SECRET)
        admin.add_dingtalk_robot(DT_TOKEN, secret=DT_SECRET)
        admin.add_wecom_app(WC_CORP, WC_SECRET, 1000002, ["alice"])
        admin.set_endpoint("admin", Behaviour.ok())
        other.add_feishu_bot("attacker-token-01")
        other.add_dingtalk_robot("attacker-token-02")
        other.add_wecom_app(WC_CORP, "attacker-knows-no-secret", 1000002, ["alice"])
        other.set_endpoint("collect", Behaviour.ok())
        yield admin, other


def channel_for(kind: str, fake: FakePlatforms) -> dict[str, Any]:
    """The admin's channel of `kind` on `fake`, with its secrets."""
    configs: dict[str, dict[str, Any]] = {
        "feishu": {"webhook_url": fake.feishu_url(FS_TOKEN), "sign_secret": FS_SECRET},
        "dingtalk": {"webhook_url": fake.dingtalk_url(DT_TOKEN), "sign_secret": DT_SECRET},
        "wechat": {
            "corp_id": WC_CORP,
            "agent_id": 1000002,
            "secret": WC_SECRET,
            "to_user": "alice",
            "api_base": fake.wecom_api_base,
        },
        "custom": {
            "url": fake.endpoint_url("admin"),
            "headers": {"Authorization": f"Bearer {ADMIN_BEARER}", "X-Team": "payments"},
            "signing_secret": WHSEC,
        },
    }
    return {"type": kind, "config": configs[kind]}


def redirected(kind: str, other: FakePlatforms) -> dict[str, Any]:
    """The editor's change: only the URL, to their own server (the rest sent back as shown)."""
    return {
        "feishu": {"webhook_url": other.feishu_url("attacker-token-01")},
        "dingtalk": {"webhook_url": other.dingtalk_url("attacker-token-02")},
        "wechat": {"api_base": other.wecom_api_base},
        "custom": {"url": other.endpoint_url("collect")},
    }[kind]


# The secrets each type would have kept, and where the editor's server would have seen them.
KEPT = {
    "feishu": ["sign_secret"],
    "dingtalk": ["sign_secret"],
    "wechat": ["secret"],
    "custom": ["signing_secret", "headers.Authorization"],
}
SEEN_BY = {
    "feishu": Platform.FEISHU,
    "dingtalk": Platform.DINGTALK,
    "wechat": Platform.WECOM_TOKEN,
    "custom": Platform.ENDPOINT,
}


def create(client: TestClient, project_id: str, *channels: dict[str, Any]) -> dict[str, Any]:
    body = {"name": "room", "events": ["task_failed"], "channels": list(channels)}
    r = client.post(f"{API}/projects/{project_id}/callbacks", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    return dict(r.json())


def as_sent_back(config: dict[str, Any]) -> dict[str, Any]:
    """A config answer as a client sends it back (read-only fields dropped, so this test does
    not depend on them being accepted)."""
    channels = [{k: v for k, v in ch.items() if k != "warnings"} for ch in config["channels"]]
    return {
        "name": config["name"],
        "events": config["events"],
        "filters": config["filters"],
        "channels": channels,
    }


@pytest.mark.parametrize("kind", list(KEPT))
def test_masked_secrets_are_refused_when_the_destination_changes(
    client: TestClient, container: Container, fakes: tuple[FakePlatforms, FakePlatforms], kind: str
) -> None:
    admin, other = fakes
    project = create_project(client, "payments-api")
    created = create(client, project["id"], channel_for(kind, admin))
    cid = created["id"]
    before = container.callbacks.get(cid).channels[0].config

    edited = as_sent_back(created)
    edited["channels"][0]["config"].update(redirected(kind, other))
    r = client.put(f"{API}/callbacks/{cid}", json=edited, headers=AUTH)
    test = client.post(f"{API}/callbacks/{cid}/test", json={}, headers=AUTH)

    # Whatever the answer, the editor's server never saw a request with the admin's secrets.
    assert other.received(SEEN_BY[kind]) == [], "the admin's secrets went to the new server"
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    fields = [d["field"] for d in error["details"]]
    assert fields == [f"channels.0.config.{name}" for name in KEPT[kind]]
    assert error["message"].startswith(f"channels.0.config.{KEPT[kind][0]}: ")
    assert "another scheme, host or port" in error["message"]
    assert "entered again" in error["message"]
    assert container.callbacks.get(cid).channels[0].config == before  # nothing stored
    assert test.json()["results"][0]["delivered"], test.text  # still the admin's destination


def test_secrets_entered_again_go_to_the_new_destination_and_a_path_change_keeps_them(
    client: TestClient, container: Container, fakes: tuple[FakePlatforms, FakePlatforms]
) -> None:
    admin, other = fakes
    project = create_project(client, "payments-api")
    created = create(client, project["id"], channel_for("custom", admin))
    cid = created["id"]
    # Same scheme, host and port, another path: the masked secrets are kept.
    same_place = as_sent_back(created)
    admin.set_endpoint("admin-v2", Behaviour.ok())
    same_place["channels"][0]["config"]["url"] = admin.endpoint_url("admin-v2")
    r = client.put(f"{API}/callbacks/{cid}", json=same_place, headers=AUTH)
    assert r.status_code == 200, r.text
    kept = container.callbacks.get(cid).channels[0].config
    assert isinstance(kept, CustomConfig)
    assert kept.headers["Authorization"] == f"Bearer {ADMIN_BEARER}"
    # Elsewhere, with every secret entered again (or dropped): allowed.
    moved = as_sent_back(r.json())
    moved["channels"][0]["config"].update(
        url=other.endpoint_url("collect"),
        headers={"Authorization": "Bearer for-the-new-server", "X-Team": "payments"},
        signing_secret=None,
    )
    r = client.put(f"{API}/callbacks/{cid}", json=moved, headers=AUTH)
    assert r.status_code == 200, r.text
    client.post(f"{API}/callbacks/{cid}/test", json={}, headers=AUTH)
    (seen,) = other.received(Platform.ENDPOINT)
    assert seen.headers["authorization"] == "Bearer for-the-new-server"


def history_request(client: TestClient, cid: str) -> dict[str, Any]:
    items = client.get(f"{API}/callbacks/{cid}/history", headers=AUTH).json()["items"]
    detail = client.get(f"{API}/callbacks/history/{items[0]['id']}", headers=AUTH).json()
    return dict(detail["attempt_log"][-1]["request"])


def test_history_and_preview_show_ordinary_text_as_it_was_sent(
    client: TestClient, fakes: tuple[FakePlatforms, FakePlatforms]
) -> None:
    admin, _ = fakes
    project = create_project(client, "payments-api")
    cid = create(client, project["id"], channel_for("custom", admin))["id"]
    r = client.post(f"{API}/callbacks/{cid}/test", json={}, headers=AUTH)
    assert r.json()["results"][0]["delivered"], r.text
    (received,) = admin.received(Platform.ENDPOINT)
    assert received.json["project"]["name"] == "payments-api"
    assert received.headers["x-team"] == "payments"

    recorded = history_request(client, cid)
    (preview,) = client.post(f"{API}/callbacks/{cid}/preview", json={}, headers=AUTH).json()
    for where, request in (("history", recorded), ("preview", preview)):
        body = request["body"] if isinstance(request["body"], str) else str(request["body"])
        assert "payments-api" in body and "****-api" not in body, (where, body[:300])
        assert request["headers"]["X-Team"] == "payments", where
        assert request["headers"]["Authorization"] == "****", where
        assert ADMIN_BEARER not in str(request), where
    shown = client.get(f"{API}/callbacks/{cid}", headers=AUTH).json()["channels"][0]["config"]
    assert shown["headers"] == {"Authorization": "****", "X-Team": "payments"}


def test_marked_headers_and_a_secret_url_are_masked_everywhere(
    client: TestClient, container: Container, fakes: tuple[FakePlatforms, FakePlatforms]
) -> None:
    admin, _ = fakes
    path_token, tenant = "T0k3nInThePath-0123456789", "acme-tenant-4242"
    # The receiver refuses the request, quoting the path it was called on.
    admin.set_endpoint(path_token, Behaviour.with_status(404, f"no hook at /hook/{path_token}"))
    url = f"{admin.endpoint_url(path_token)}?team=ops"
    project = create_project(client, "payments-api")
    channel = {
        "type": "custom",
        "config": {
            "url": url,
            "secret_url": True,
            "headers": {"X-Tenant": tenant, "X-Team": "payments"},
            "secret_headers": ["x-tenant"],
            "retry_count": 0,
        },
    }
    created = create(client, project["id"], channel)
    cid = created["id"]
    base = admin.base_url
    assert created["channels"][0]["config"]["url"] == f"{base}/****"
    assert created["channels"][0]["config"]["headers"] == {"X-Tenant": "****", "X-Team": "payments"}
    result = client.post(f"{API}/callbacks/{cid}/test", json={}, headers=AUTH).json()["results"][0]
    (received,) = admin.received(Platform.ENDPOINT)
    assert received.headers["x-tenant"] == tenant and received.query == {"team": "ops"}

    recorded = history_request(client, cid)
    (preview,) = client.post(f"{API}/callbacks/{cid}/preview", json={}, headers=AUTH).json()
    targets = client.get(f"{API}/callbacks/targets", headers=AUTH).json()
    history = client.get(f"{API}/callbacks/{cid}/history", headers=AUTH).json()["items"]
    texts = {
        "test result": str(result),
        "history": str(history) + str(recorded),
        "preview": str(preview),
        "targets": str(targets),
        "config": str(client.get(f"{API}/callbacks/{cid}", headers=AUTH).json()),
    }
    for where, text in texts.items():
        assert path_token not in text and tenant not in text, where  # never print a secret
    assert recorded["url"] == preview["url"] == f"{base}/****"
    assert recorded["headers"]["X-Tenant"] == "****" and recorded["headers"]["X-Team"] == "payments"
    assert result["outcome"] == "permanent" and "no hook at" in result["message"]
    assert any(f"custom {base}/****" in t["description"] for t in targets)
    # The masked URL round-trips: sent back as shown, the stored one is kept.
    r = client.put(f"{API}/callbacks/{cid}", json=as_sent_back(created), headers=AUTH)
    assert r.status_code == 200, r.text
    stored = container.callbacks.get(cid).channels[0].config
    assert isinstance(stored, CustomConfig)
    assert stored.url == url and stored.headers["X-Tenant"] == tenant


def test_marking_a_url_secret_later_hides_its_path_from_the_targets_list(
    client: TestClient, fakes: tuple[FakePlatforms, FakePlatforms]
) -> None:
    admin, _ = fakes
    path_token = "T0k3nInThePath-later-0123"
    admin.set_endpoint(path_token, Behaviour.ok())
    project = create_project(client, "payments-api")
    channel = {"type": "custom", "config": {"url": admin.endpoint_url(path_token)}}
    created = create(client, project["id"], channel)
    targets = client.get(f"{API}/callbacks/targets", headers=AUTH).json()
    assert path_token in str(targets)  # not secret yet: shown as configured
    marked = as_sent_back(created)
    marked["channels"][0]["config"]["secret_url"] = True
    r = client.put(f"{API}/callbacks/{created['id']}", json=marked, headers=AUTH)
    assert r.status_code == 200, r.text
    targets = client.get(f"{API}/callbacks/targets", headers=AUTH).json()
    assert path_token not in str(targets)
    assert [t["description"] for t in targets] == [f"custom {admin.base_url}/****"]

"""A channel type is one module plus one registry line.

This module is that module for a throw-away `echo` channel: a settings model with its facts and
marks, and a sender that posts JSON to the fake custom endpoint (`/hook/{name}`). The fixture
`echo` is the registry line. With no other edit anywhere, Herald validates echo settings,
masks the marked secret in API answers, the audit log and the history, describes the type at
`GET /api/v1/channel-types`, and delivers to it — a test send and a release event through the
worker — with every attempt recorded in the history.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import Field

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.channels import registry
from herald.channels.base import (
    CHAT_TIMEOUT,
    JSON_HEADERS,
    EventView,
    OutboundRequest,
    Outcome,
    OutcomeKind,
    RateLimit,
    Sender,
    body_excerpt,
    expect_config,
    http_failure,
    json_bytes,
)
from herald.channels.config_base import (
    ChannelConfig,
    DestinationUrl,
    FieldText,
    SecretValue,
    Text,
)
from herald.channels.credentials import shown_url
from herald.channels.fields import MAX_URL, http_url
from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from tests.integration.api.helpers import AUTH, create_project, create_version

API = "/api/v1/release"
TOKEN = "echo-token-0123456789abcdef"
ROOM = "release-room"

# -- the channel module -------------------------------------------------------------------------


class EchoConfig(ChannelConfig):
    """An echo receiver: a URL, a token it checks, and the room to post to."""

    channel_type: ClassVar[str] = "echo"
    type_label: ClassVar[Text] = Text("回声", "Echo")
    destination_field: ClassVar[str] = "url"
    field_texts: ClassVar[Mapping[str, FieldText]] = {
        "url": FieldText(Text("接收地址", "Receiver URL"), placeholder="https://echo.example.com"),
        "token": FieldText(
            Text("令牌", "Token"), help=Text("接收方核对的令牌。", "The token the receiver checks.")
        ),
        "room": FieldText(Text("房间", "Room")),
    }

    url: Annotated[
        str, Field(max_length=MAX_URL), http_url("https://echo.example.com"), DestinationUrl()
    ]
    token: Annotated[str, Field(min_length=12, max_length=64), SecretValue()]
    room: Annotated[str, Field(min_length=1, max_length=40)] = "general"


class EchoSender:
    """Posts `{"room", "token", "text"}` to the receiver; any 2xx is delivered."""

    channel_type: ClassVar[str] = "echo"
    config_model: ClassVar[type[ChannelConfig]] = EchoConfig
    default_rate_limits: ClassVar[tuple[RateLimit, ...]] = (RateLimit(10, 1.0),)
    supports_digest: ClassVar[bool] = False
    renders_message: ClassVar[bool] = True
    one_at_a_time: ClassVar[bool] = False
    requests_per_delivery: ClassVar[int] = 1

    def target_identity(self, config: ChannelConfig) -> str:
        return expect_config(config, EchoConfig).url

    def render(
        self,
        event: EventView,
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        echo = expect_config(config, EchoConfig)
        body = json_bytes({"room": echo.room, "token": echo.token, "text": event.message.title})
        return OutboundRequest(
            method="POST",
            url=echo.url,
            headers=JSON_HEADERS,
            body=body,
            timeout=default_timeout,
            redacted_url=shown_url(echo, "url"),
            redacted_headers=JSON_HEADERS,
        )

    def render_digest(
        self,
        events: Sequence[EventView],
        config: ChannelConfig,
        *,
        now: float,
        access_token: str | None = None,
        default_timeout: float = CHAT_TIMEOUT,
    ) -> OutboundRequest:
        raise NotImplementedError("echo receivers get one message per event")

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
        if 200 <= status < 300:
            return Outcome(OutcomeKind.DELIVERED, f"http_{status}", f"HTTP {status}")
        return http_failure(status, headers, body_excerpt(body))


# -- the registry line, and a Herald around it --------------------------------------------------


@pytest.fixture(autouse=True)
def echo() -> Iterator[Sender]:
    with registry.registered(EchoSender()) as sender:
        yield sender


@pytest.fixture
def world(container: Container) -> Iterator[tuple[TestClient, FakePlatforms]]:
    with (
        FakePlatformsThread() as fake,
        TestClient(create_app(container, background=[container.worker().run])) as client,
    ):
        fake.set_endpoint(ROOM, Behaviour.ok())
        yield client, fake


def echo_channel(fake: FakePlatforms, **config: Any) -> dict[str, Any]:
    settings = {"url": fake.endpoint_url(ROOM), "token": TOKEN, "room": "ops", **config}
    return {"type": "echo", "config": settings}


def create_config(client: TestClient, project_id: str, *channels: dict[str, Any]) -> Any:
    body = {"name": "echo", "events": ["task_stopped"], "channels": list(channels)}
    return client.post(f"{API}/projects/{project_id}/callbacks", json=body, headers=AUTH)


# -- what the one module gets -------------------------------------------------------------------


def test_bad_settings_are_422_naming_the_field(world: tuple[TestClient, FakePlatforms]) -> None:
    client, fake = world
    project = create_project(client, "echo-bad")
    for config, field, words in (
        ({"token": "short"}, "token", "at least 12 characters"),
        ({"url": "ftp://echo.example.com"}, "url", "such as https://echo.example.com"),
        ({"channel": "#x"}, "channel", "Extra inputs are not permitted"),
    ):
        r = create_config(client, project["id"], echo_channel(fake, **config))
        assert r.status_code == 422, r.text
        (detail,) = r.json()["error"]["details"]
        assert detail["field"] == f"channels.0.config.{field}"
        assert words in detail["message"]


def test_the_type_is_described_with_its_secret_flag_labels_and_capabilities(
    world: tuple[TestClient, FakePlatforms],
) -> None:
    client, _ = world
    types = client.get("/api/v1/channel-types", headers=AUTH).json()["items"]
    (echo,) = [t for t in types if t["type"] == "echo"]
    assert echo["label"] == {"zh": "回声", "en": "Echo"}
    properties = echo["config_schema"]["properties"]
    assert properties["token"]["secret"] is True and "secret" not in properties["room"]
    assert properties["url"]["format"] == "uri" and properties["room"]["default"] == "general"
    assert echo["config_schema"]["required"] == ["url", "token"]
    assert [f["name"] for f in echo["fields"]] == ["url", "token", "room"]
    assert echo["fields"][1]["help"] == {
        "zh": "接收方核对的令牌。",
        "en": "The token the receiver checks.",
    }
    assert echo["capabilities"] == {
        "digest": False,
        "one_at_a_time": False,
        "rate_limits": [{"count": 10, "per_seconds": 1.0}],
        "requests_per_delivery": 1,
        "token_auth": False,
        "own_retry_policy": False,
    }


def test_masked_in_answers_and_audit_and_delivered_by_a_test_send(
    world: tuple[TestClient, FakePlatforms],
) -> None:
    client, fake = world
    project = create_project(client, "echo-test")
    r = create_config(client, project["id"], echo_channel(fake))
    assert r.status_code == 201, r.text
    created = r.json()
    shown = created["channels"][0]["config"]
    assert shown == {"url": fake.endpoint_url(ROOM), "token": "****cdef", "room": "ops"}
    # Sent back as shown, the masked token keeps the stored one.
    again = client.put(f"{API}/callbacks/{created['id']}", json=created, headers=AUTH)
    assert again.status_code == 200, again.text
    audit = client.get(f"/api/v1/audit?resource_id={created['id']}", headers=AUTH).json()
    assert len(audit["items"]) == 2 and TOKEN not in str(audit)

    sent = client.post(f"{API}/callbacks/{created['id']}/test", headers=AUTH).json()
    (result,) = sent["results"]
    assert (result["channel_type"], result["outcome"], result["http_status"]) == (
        "echo",
        "delivered",
        204,
    )
    (received,) = fake.received(Platform.ENDPOINT, ROOM)
    assert received.json["token"] == TOKEN and received.json["room"] == "ops"
    detail = client.get(f"{API}/callbacks/history/{result['delivery_id']}", headers=AUTH).json()
    assert_redacted(detail)


def test_a_release_event_is_delivered_by_the_worker_and_recorded(
    world: tuple[TestClient, FakePlatforms],
) -> None:
    client, fake = world
    project = create_project(client, "echo-release")
    version = create_version(client, project["id"])
    assert create_config(client, project["id"], echo_channel(fake)).status_code == 201
    task = client.post(
        f"{API}/tasks",
        json={
            "project_id": project["id"],
            "version_id": version["id"],
            "strategy": "rolling",
            "environment": "staging",
            "hosts": ["h1"],
        },
        headers=AUTH,
    ).json()
    assert client.post(f"{API}/tasks/{task['id']}/stop", headers=AUTH).status_code == 200
    history = wait_for_success(client, task["id"])
    assert history["channel_type"] == "echo" and history["event_type"] == "task_stopped"
    (received,) = fake.received(Platform.ENDPOINT, ROOM)
    assert received.json["token"] == TOKEN
    detail = client.get(f"{API}/callbacks/history/{history['id']}", headers=AUTH).json()
    assert_redacted(detail)


def wait_for_success(client: TestClient, task_id: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        items = client.get(f"{API}/tasks/{task_id}/callbacks", headers=AUTH).json()["items"]
        if items and items[0]["status"] == "success":
            return items[0]
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def assert_redacted(detail: dict[str, Any]) -> None:
    """The history shows the attempt's request with the token masked, and nowhere in clear."""
    (attempt,) = detail["attempt_log"]
    assert attempt["outcome"] == "delivered"
    assert '"token":"****"' in attempt["request"]["body"]
    assert TOKEN not in str(detail)

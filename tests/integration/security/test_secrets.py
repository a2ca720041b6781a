"""Secrets at rest and in motion (SPEC §10): never in API responses, logs, history or the
database in clear; key rotation keeps every channel deliverable; where the key comes from.

The full run configures a channel of every type, each carrying distinct recognisable secrets,
against the fake platforms; drives real events (a canary task through the release engine, an
external task stopped), a test send, deliveries that fail (a wrong DingTalk secret, a wrong WeCom
app secret, a receiver answering 401 and echoing the credentials it was sent), an update that
sends the masked values back, invalid updates carrying new secrets, and a resend. Then every API
response body and header, every log record (root at DEBUG, SQL echo included), the process's
stdout/stderr, every row of every table, and the SQLite file bytes are scanned for each secret
in clear, URL-encoded and JSON-escaped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.fakeplatforms import Behaviour, FakePlatforms, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from herald.observability.log_setup import JsonFormatter, TextFormatter
from herald.runtime.clock import SystemClock
from herald.security.encryption import InsecureKeyFileError, KeyRing, SecretDecryptError
from herald.security.key_rotation import rotate_secrets
from herald.security.keys import MissingSecretKey, build_keyring, key_file_for
from herald.store.tables import metadata, wecom_tokens
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.integration.api.helpers import AUTH
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    attempt_rows,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)

# -- the secrets: distinct, recognisable, some with characters that change when URL-encoded ----

FS_TOKEN = "fsHookToken7c1e9b3a5d2f"  # Feishu webhook path token
FS_SIGN = "fs+Sign/Secret=9QwErTy1xx"  # Feishu signing secret
DT_TOKEN = "dtAccessToken4e8c2a6f0b9d1e"  # DingTalk access_token
DT_SECRET = "SECdt+Sign/Secret=5aZ7xK3mQ"  # DingTalk SEC secret
DT2_TOKEN = "dtOtherRobotToken1f2e3d4c5b"  # a second robot…
DT2_REAL = "SECrealSecretOfRobotTwo88aa"  # …whose real secret Herald never gets
DT2_WRONG = "SECwrong+Secret/Configured=77"  # …configured with the wrong one
WC_CORP = "wwcorp0001"  # public
WC_SECRET = "wcCorp+Secret/Value=31xYzAB"  # WeCom app corp secret
WC_WRONG = "wcWrong+Corp/Secret=90QRstu"  # a wrong corp secret for the same corp
WB_KEY = "wbBotKey-6a0d2c4e-81f3-4b57"  # WeCom group robot key
CU_TOKEN = "cuQueryToken0b7e5d3c1a9f"  # custom URL ?token=
CU_BEARER = "cuBearer+Header/Token=42zz"  # custom Authorization: Bearer …
CU_WHSEC_KEY = base64.b64encode(b"custom-signing-key+/-0123456789ab").decode()
CU_WHSEC = f"whsec_{CU_WHSEC_KEY}"  # Standard Webhooks secret
CU2_TOKEN = "cu2EchoQueryKey5d4c3b2a1f"  # echo receiver ?api_key=
CU2_KEY = "cu2EchoXApiKey+Value/88yy"  # echo receiver X-Api-Key
CU2_BEARER = "cu2EchoBearerTok=77wwvv"  # echo receiver Authorization: Bearer …
# Sent only in refused updates: an error message must not echo them either.
NEW_HEADER = "newHeaderSecretRefused11"
NOSEC_SECRET = "noSecPrefixSecret+Refused22"
FTP_TOKEN = "ftpUrlTokenRefused33abcd"

SECRETS = {
    name: value
    for name, value in globals().items()
    if name.isupper() and isinstance(value, str) and name not in ("WC_CORP", "CU_WHSEC")
}
ECHO_BODY = json.dumps(
    {
        "error": "unauthorized",
        "received": {"api_key": CU2_TOKEN, "x-api-key": CU2_KEY, "bearer": CU2_BEARER},
    }
)

# Loggers that belong to the fake platforms' server side (the "other end" of the wire), not to
# Herald: a real platform's logs are not Herald's output.
FOREIGN_LOGGERS = ("herald.fakeplatforms", "aiohttp.access", "aiohttp.server", "aiohttp.web")


def forms(secret: str) -> set[str]:
    """The ways a secret shows up in text: as is, URL-encoded, JSON-escaped."""
    found = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    return found | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in found}


def leaks(where: str, text: str, secrets: dict[str, str]) -> list[str]:
    return [
        f"{name} ({value!r}) in {where}"
        for name, value in secrets.items()
        if any(form in text for form in forms(value))
    ]


def byte_leaks(where: str, data: bytes, secrets: dict[str, str]) -> list[str]:
    return [
        f"{name} in {where}"
        for name, value in secrets.items()
        if any(form.encode() in data for form in forms(value))
    ]


def dump_tables(c: Container) -> dict[str, str]:
    """Every row of every table as text (PostgreSQL: the row's own text cast)."""
    with c.db.read() as conn:
        names = sorted(sa.inspect(conn).get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= set(names)
        dumped = {}
        for name in names:
            if c.db.is_postgres:
                rows = conn.execute(sa.text(f'SELECT t::text FROM "{name}" t')).scalars().all()
            else:
                result = conn.execute(sa.text(f'SELECT * FROM "{name}"'))
                rows = [" | ".join(str(value) for value in row) for row in result]
            dumped[name] = "\n".join(rows)
    return dumped


def sqlite_files(url: str) -> list[Path]:
    path = Path(make_url(url).database or "")
    return [
        p for p in (path, *(Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))) if p.exists()
    ]


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(0.05)


class RecordingClient(TestClient):
    """A TestClient that keeps every response (status, headers, body) for the scan."""

    seen: list[str]

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        self.seen.append(
            f"{response.request.method} {response.request.url} {response.status_code}\n"
            f"{dict(response.headers)}\n{response.text}"
        )
        return response


def register_fakes(fake: FakePlatforms) -> None:
    fake.add_feishu_bot(FS_TOKEN, secret=FS_SIGN)
    fake.add_dingtalk_robot(DT_TOKEN, secret=DT_SECRET)
    fake.add_dingtalk_robot(DT2_TOKEN, secret=DT2_REAL)
    fake.add_wecom_app(WC_CORP, WC_SECRET, 1000002, ["alice"])
    fake.add_wecom_bot(WB_KEY)
    fake.set_endpoint("ops", Behaviour.ok(), secret=CU_WHSEC, enforce_signature=True)
    fake.set_endpoint(
        "echo", Behaviour.with_status(401, ECHO_BODY, content_type="application/json")
    )


def good_channels(fake: FakePlatforms) -> list[dict[str, Any]]:
    """One channel of every type, each deliverable with the secrets the fakes know."""
    return [
        {
            "type": "feishu",
            "config": {"webhook_url": fake.feishu_url(FS_TOKEN), "sign_secret": FS_SIGN},
        },
        {
            "type": "dingtalk",
            "config": {"webhook_url": fake.dingtalk_url(DT_TOKEN), "sign_secret": DT_SECRET},
        },
        {
            "type": "wechat",
            "config": {
                "corp_id": WC_CORP,
                "agent_id": 1000002,
                "secret": WC_SECRET,
                "to_user": "alice",
                "api_base": fake.wecom_api_base,
            },
        },
        {"type": "wecom_bot", "config": {"webhook_url": fake.wecom_bot_url(WB_KEY)}},
        {
            "type": "custom",
            "config": {
                "url": f"{fake.endpoint_url('ops')}?token={CU_TOKEN}",
                "headers": {"Authorization": f"Bearer {CU_BEARER}"},
                "signing_secret": CU_WHSEC,
                "retry_interval": 1,
            },
        },
    ]


def failing_channels(fake: FakePlatforms) -> list[dict[str, Any]]:
    """Channels whose deliveries fail with error text recorded in the history."""
    return [
        {
            "type": "dingtalk",
            "config": {"webhook_url": fake.dingtalk_url(DT2_TOKEN), "sign_secret": DT2_WRONG},
        },
        {
            "type": "wechat",
            "config": {
                "corp_id": WC_CORP,
                "agent_id": 1000002,
                "secret": WC_WRONG,
                "to_user": "alice",
                "api_base": fake.wecom_api_base,
            },
        },
        {
            "type": "custom",
            "config": {
                "url": f"{fake.endpoint_url('echo')}?api_key={CU2_TOKEN}",
                "headers": {"X-Api-Key": CU2_KEY, "Authorization": f"Bearer {CU2_BEARER}"},
                "retry_count": 0,
            },
        },
    ]


GOOD_TYPES = ["feishu", "dingtalk", "wechat", "wecom_bot", "custom"]
EVENTS = [
    "canary_started",
    "canary_completed",
    "full_completed",
    "task_failed",
    "task_stopped",
    "long_running",
]


# -- the full run -----------------------------------------------------------------------------


def _drive(client: RecordingClient, c: Container, fake: FakePlatforms) -> dict[str, Any]:
    """Everything a busy day does to a config; returns ids for the checks."""
    project = client.post(
        "/api/v1/release/projects", json={"name": "secrets-run"}, headers=AUTH
    ).json()
    pid = project["id"]
    version = client.post(
        f"/api/v1/release/projects/{pid}/versions", json={"name": "v9.9.9"}, headers=AUTH
    ).json()
    channels = good_channels(fake) + failing_channels(fake)
    body = {"name": "everything", "events": EVENTS, "channels": channels}

    r = client.post(
        f"/api/v1/release/projects/{pid}/callbacks/preview",
        json={"event_type": "canary_started", "config": body},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/release/projects/{pid}/callbacks", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    created = r.json()
    cid = created["id"]
    before = c.callbacks.get(cid)

    # Update: send back exactly what the API showed (masked); the secrets must stay.
    shown = client.get(f"/api/v1/release/callbacks/{cid}", headers=AUTH).json()
    update = {
        "name": "everything, renamed",
        "events": shown["events"],
        "channels": [{k: v for k, v in ch.items() if k != "warnings"} for ch in shown["channels"]],
    }
    r = client.put(f"/api/v1/release/callbacks/{cid}", json=update, headers=AUTH)
    assert r.status_code == 200, r.text
    after = c.callbacks.get(cid)
    assert [ch.config for ch in after.channels] == [ch.config for ch in before.channels]
    assert [ch.id for ch in after.channels] == [ch.id for ch in before.channels]

    # Refused updates carrying new secrets: the error must not echo them.
    def refused(position: int, **config: Any) -> None:
        bad = json.loads(json.dumps(update))
        bad["channels"][position]["config"].update(config)
        r = client.put(f"/api/v1/release/callbacks/{cid}", json=bad, headers=AUTH)
        assert r.status_code == 422, r.text

    refused(4, headers={"Authorization": "****", "X-New": f"{NEW_HEADER}\r\nInjected: 1"})
    refused(1, sign_secret=NOSEC_SECRET)
    refused(4, url=f"ftp://127.0.0.1/hook?token={FTP_TOKEN}")
    refused(0, sign_secret=f"****{FS_SIGN[-4:]}x")  # a mask that is not the one shown

    # A test send to every channel.
    r = client.post(
        f"/api/v1/release/callbacks/{cid}/test", json={"event_type": "task_failed"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    tested = {x["channel_id"]: x for x in r.json()["results"]}
    delivered = [tested[ch.id]["delivered"] for ch in after.channels]
    assert delivered == [True] * 5 + [False] * 3, tested

    # Real events: a canary through the engine and an external task stopped.
    task = client.post(
        "/api/v1/release/tasks",
        json={
            "project_id": pid,
            "version_id": version["id"],
            "strategy": "canary",
            "environment": "production",
            "hosts": ["web-1", "web-2", "web-3"],
            "canary_count": 1,
            "executor": {"type": "simulated", "host_seconds": 0.01},
            "auto_promote_after": 0,
        },
        headers=AUTH,
    ).json()
    client.post(f"/api/v1/release/tasks/{task['id']}/start", headers=AUTH)
    external = client.post(
        "/api/v1/release/tasks",
        json={
            "project_id": pid,
            "version_id": version["id"],
            "strategy": "rolling",
            "environment": "staging",
            "hosts": ["db-1"],
        },
        headers=AUTH,
    ).json()
    r = client.post(
        f"/api/v1/release/tasks/{external['id']}/stop", json={"reason": "not today"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    wait_until(
        lambda: (
            client.get(f"/api/v1/release/tasks/{task['id']}", headers=AUTH).json()["status"]
            == "success"
        )
    )
    # 4 events (canary started/completed, full completed, stopped) × 8 channels, plus tests.
    wait_until(lambda: len(delivery_rows(c, kind="event")) == 32 and all_final(c))

    # Resend a failed delivery (the echoing receiver).
    echo_id = after.channels[7].id
    failed = delivery_rows(c, channel_id=echo_id, kind="event")[0]
    r = client.post(f"/api/v1/release/callbacks/history/{failed.id}/resend", headers=AUTH)
    assert r.status_code == 200, r.text
    wait_until(lambda: len(attempt_rows(c, failed.id)) == 2 and all_final(c))
    return {"project": pid, "config": cid, "tasks": [task["id"], external["id"]], "c": after}


def _read_everything(client: RecordingClient, ids: dict[str, Any]) -> None:
    pid, cid = ids["project"], ids["config"]
    gets = [
        "/healthz",
        "/metrics",
        "/api/v1/release/projects",
        f"/api/v1/release/projects/{pid}",
        f"/api/v1/release/projects/{pid}/versions",
        "/api/v1/release/callbacks",
        f"/api/v1/release/callbacks/{cid}",
        f"/api/v1/release/projects/{pid}/callbacks",
        "/api/v1/release/callbacks/stats",
        "/api/v1/release/callbacks/targets",
        f"/api/v1/release/callbacks/{cid}/history?limit=200",
        "/api/v1/audit?limit=200",
        "/api/v1/tokens?include_revoked=true",
        "/api/v1/release/tasks",
    ]
    for task_id in ids["tasks"]:
        gets += [
            f"/api/v1/release/tasks/{task_id}",
            f"/api/v1/release/tasks/{task_id}/events",
            f"/api/v1/release/tasks/{task_id}/callbacks?limit=200",
        ]
    for path in gets:
        r = client.get(path, headers=AUTH)
        assert r.status_code == 200, (path, r.text)
    cursor: str | None = ""
    history = []
    while cursor is not None:
        page = client.get(
            f"/api/v1/release/callbacks/history?limit=7&cursor={cursor}"
            if cursor
            else "/api/v1/release/callbacks/history?limit=7",
            headers=AUTH,
        ).json()
        history += page["items"]
        cursor = page["next_cursor"]
    assert len(history) == 32 + 8
    for item in history:
        r = client.get(f"/api/v1/release/callbacks/history/{item['id']}", headers=AUTH)
        assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/release/callbacks/{cid}/preview", json={}, headers=AUTH)
    assert r.status_code == 200, r.text


def test_a_full_run_shows_no_secret_anywhere(
    container: Container,
    store_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="herald")
    # SQL statements with their parameters too (SQLAlchemy keeps its logger at WARNING).
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    c = container
    background = [c.runner().run, c.worker().run]
    with FakePlatformsThread() as fake:
        register_fakes(fake)
        client = RecordingClient(create_app(c, background=background))
        client.seen = []
        with client:
            ids = _drive(client, c, fake)
            _read_everything(client, ids)
        gettoken = fake.received(Platform.WECOM_TOKEN)
        received = {p: fake.received(p) for p in Platform}

    # The run really happened: every good channel delivered every event, signed correctly.
    config = ids["c"]
    for position, channel in enumerate(config.channels):
        rows = delivery_rows(c, channel_id=channel.id, kind="event")
        expected = "success" if position < 5 else "failed"
        assert len(rows) == 4 and {r.status for r in rows} == {expected}, (channel.type, rows)
    assert fake.endpoint_stats("ops").valid_signatures == 5  # 4 events and the test
    assert fake.endpoint_stats("ops").invalid_signatures == 0
    assert [r.code for r in received[Platform.FEISHU]] == [0] * 5
    assert {r.code for r in received[Platform.DINGTALK] if r.key == DT2_TOKEN} == {310000}
    assert {r.code for r in gettoken} == {0, 40001}

    # Failures left error text to scan: platform codes, the gettoken refusal, and the echo.
    attempts = attempt_rows(c)
    errors = "\n".join(a.error or "" for a in attempts)
    assert "310000" in errors or "sign" in errors.lower()
    assert "40001" in errors
    echoed = [a.response_body for a in attempts if a.response_status == 401]
    assert len(echoed) == 6  # the test send, 4 events, the resend
    assert all("unauthorized" in body and body.count("****") == 3 for body in echoed), echoed

    # The WeCom access tokens the fake issued are credentials too.
    issued = {
        f"WECOM_ACCESS_TOKEN_{i}": r.response["access_token"]
        for i, r in enumerate(gettoken)
        if r.code == 0
    }
    # So are Herald's own: the encryption key and the admin token (stored only as a hash).
    assert c.settings.secret_key is not None
    own = {"SECRET_KEY": c.settings.secret_key.get_secret_value(), "ADMIN_TOKEN": ADMIN_TOKEN}
    secrets = {**SECRETS, **issued, **own}
    assert issued

    found: list[str] = []
    for i, text in enumerate(client.seen):
        found += leaks(f"API response {i}: {text[:120]!r}", text, secrets)
    records = [r for r in caplog.records if not r.name.startswith(FOREIGN_LOGGERS)]
    # The capture is not empty: SQL statements with their parameters, HTTP client records.
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
    text_fmt, json_fmt = TextFormatter(), JsonFormatter()
    for record in records:
        for formatted in (text_fmt.format(record), json_fmt.format(record)):
            found += leaks(
                f"log record {record.name}: {record.getMessage()[:120]!r}", formatted, secrets
            )
    out, err = capfd.readouterr()
    found += leaks("stdout", out, secrets) + leaks("stderr", err, secrets)
    for table, text in dump_tables(c).items():
        found += leaks(f"table {table}", text, secrets)
    if not c.db.is_postgres:
        for path in sqlite_files(store_url):
            found += byte_leaks(str(path.name), path.read_bytes(), secrets)
        c.close()  # checkpoints the WAL into the main file: scan that too
        for path in sqlite_files(store_url):
            found += byte_leaks(f"{path.name} after close", path.read_bytes(), secrets)
    assert not found, "\n".join(dict.fromkeys(found))


# -- key rotation ------------------------------------------------------------------------------

K1 = "first test-only key for rotation, 32+ chars"
K2 = "second test-only key for rotation, 32+ chars"


def _build(url: str, key: str, old: Iterable[str] = ()) -> Container:
    c = Container.build(
        make_settings(url, secret_key=key, old_secret_keys=list(old)), SystemClock()
    )
    c.tokens.ensure_bootstrap_admin(ADMIN_TOKEN)
    return c


async def _deliver_all(c: Container, project_id: str, version_id: str) -> list[Any]:
    """One stopped task; every channel's delivery must succeed."""
    before = {r.id for r in delivery_rows(c)}
    emit_stopped_tasks(c, project_id, version_id, 1)
    async with running_worker(c):
        await eventually(lambda: len(delivery_rows(c)) > len(before) and all_final(c))
    rows = [r for r in delivery_rows(c) if r.id not in before]
    assert [r.status for r in rows] == ["success"] * len(GOOD_TYPES), [
        (r.channel_type, r.last_error) for r in rows
    ]
    return rows


@pytest.mark.asyncio
async def test_rotation_keeps_every_channel_deliverable(store_url: str) -> None:
    from herald.fakeplatforms import running_fake_platforms

    opened: list[Container] = []

    def build(key: str, old: Iterable[str] = ()) -> Container:
        opened.append(_build(store_url, key, old))
        return opened[-1]

    try:
        async with running_fake_platforms() as fake:
            register_fakes(fake)
            c1 = build(K1)
            project_id, version_id = make_project(c1)
            cid = add_config(c1, project_id, good_channels(fake))
            original = [ch.config for ch in c1.callbacks.get(cid).channels]
            await _deliver_all(c1, project_id, version_id)  # also caches a WeCom token (K1)
            with c1.db.read() as conn:
                (token_row,) = conn.execute(sa.select(wecom_tokens)).all()

            c2 = build(K2, [K1])
            report = await asyncio.to_thread(rotate_secrets, c2.db, c2.keyring, c2.clock)
            assert (report.channels, report.tokens, report.already_current) == (5, 1, 0)
            again = await asyncio.to_thread(rotate_secrets, c2.db, c2.keyring, c2.clock)
            assert (again.channels, again.tokens, again.already_current) == (0, 0, 6)

            # Only the new key from now on: every secret reads back, every platform accepts.
            c3 = build(K2)
            assert [ch.config for ch in c3.callbacks.get(cid).channels] == original
            with c3.db.read() as conn:
                (rotated,) = conn.execute(sa.select(wecom_tokens)).all()
            assert rotated.secret_token != token_row.secret_token
            assert c3.keyring.decrypt_text(rotated.secret_token) == c1.keyring.decrypt_text(
                token_row.secret_token
            )
            counts = {p: len(fake.received(p, delivered=True)) for p in Platform}
            gettokens = len(fake.received(Platform.WECOM_TOKEN))
            await _deliver_all(c3, project_id, version_id)
            for platform in (
                Platform.FEISHU,
                Platform.DINGTALK,
                Platform.WECOM_APP,
                Platform.WECOM_BOT,
                Platform.ENDPOINT,
            ):
                assert len(fake.received(platform, delivered=True)) == counts[platform] + 1
            assert fake.endpoint_stats("ops").invalid_signatures == 0
            # The cached WeCom token was rotated too: reused, not fetched again.
            assert len(fake.received(Platform.WECOM_TOKEN)) == gettokens

            # Only the old key: a clear error, never garbage or a silent drop.
            c4 = build(K1)
            with pytest.raises(SecretDecryptError, match="not configured"):
                c4.callbacks.get(cid)
            with pytest.raises(SecretDecryptError):
                c4.keyring.decrypt_text(rotated.secret_token)
            app = create_app(c4)
            with TestClient(app) as client:
                r = client.get(f"/api/v1/release/callbacks/{cid}", headers=AUTH)
            assert r.status_code == 503
            documented = app.openapi()["paths"]["/api/v1/release/callbacks/{config_id}"]["get"]
            assert "503" in documented["responses"]
            assert "HERALD_SECRET_KEY" in r.json()["error"]["message"]
            sent = len(fake.received())
            known = {r.id for r in delivery_rows(c4)}

            def attempted_once() -> list[Any]:
                new = [r for r in delivery_rows(c4) if r.id not in known]
                done = len(new) == len(GOOD_TYPES) and all(r.attempts == 1 for r in new)
                return new if done else []

            emit_stopped_tasks(c4, project_id, version_id, 1)
            async with running_worker(c4):
                attempted = await eventually(attempted_once)
            # Kept pending for a retry once the right key is configured, with the reason shown.
            assert all(r.status == "pending" and r.next_attempt_at for r in attempted)
            for row in attempted:
                (attempt,) = attempt_rows(c4, row.id)
                assert "HERALD_SECRET_KEY" in attempt.error and "decrypt" in attempt.error
            assert len(fake.received()) == sent  # nothing sent with unreadable settings
    finally:
        for c in opened:
            c.close()


# -- where the key comes from ------------------------------------------------------------------


def test_embedded_mode_creates_a_private_key_file_beside_the_database(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, secret_key=None)
    path = key_file_for(sqlite_url)
    assert path == Path(make_url(sqlite_url).database or "").with_suffix(".key")
    assert not path.exists()
    ring, notice = build_keyring(settings, embedded=True)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert notice is not None and str(path) in notice and "0600" in notice
    token = ring.encrypt_text("hello")
    # Next start: the same key, no notice; the file holds the key, the database does not.
    ring2, notice2 = build_keyring(settings, embedded=True)
    assert notice2 is None and ring2.decrypt_text(token) == "hello"
    key = path.read_text().strip()
    assert KeyRing.from_settings(key).decrypt_text(token) == "hello"
    db_bytes = Path(make_url(sqlite_url).database or "").read_bytes()
    assert key.encode() not in db_bytes
    # A key file others can read is refused, not used.
    os.chmod(path, 0o644)
    with pytest.raises(InsecureKeyFileError, match="chmod 600"):
        build_keyring(settings, embedded=True)
    # The container reports the notice to the operator.
    os.chmod(path, 0o600)
    path.unlink()
    c = Container.build(settings, SystemClock(), embedded=True)
    try:
        assert len(c.notices) == 1 and str(path) in c.notices[0]
    finally:
        c.close()


@pytest.mark.parametrize(
    "url",
    ["sqlite-file", "postgresql://herald@127.0.0.1:5432/herald"],
    ids=["sqlite-not-embedded", "postgres"],
)
def test_without_a_key_outside_embedded_sqlite_herald_refuses_to_start(
    url: str, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'h.db'}" if url == "sqlite-file" else url
    settings = make_settings(database_url, secret_key=None)
    for embedded in (False, True) if url != "sqlite-file" else (False,):
        with pytest.raises(MissingSecretKey) as raised:
            build_keyring(settings, embedded=embedded)
        message = str(raised.value)
        assert "HERALD_SECRET_KEY is required" in message
        assert "herald secrets generate-key" in message
    assert not key_file_for(database_url).exists()


def test_a_short_key_is_refused_naming_the_setting_not_the_value(sqlite_url: str) -> None:
    from pydantic import ValidationError

    from herald.cli.commands import _config_problem

    short = "tooShortKey+Value/9"
    with pytest.raises(ValidationError) as raised:
        make_settings(sqlite_url, secret_key=short)
    shown = _config_problem(raised.value)  # what `herald` prints on a configuration error
    assert "HERALD_SECRET_KEY must be at least 32 characters" in shown
    assert not leaks("the configuration error", shown, {"key": short})
    settings = make_settings(sqlite_url, old_secret_keys=[short])
    with pytest.raises(MissingSecretKey, match="HERALD_OLD_SECRET_KEYS") as missing:
        build_keyring(settings, embedded=False)
    assert not leaks("the key error", str(missing.value), {"key": short})

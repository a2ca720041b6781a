"""`herald serve` as a real process with nothing configured but its database: the embedded
defaults (generated key file, generated admin token printed once) carry a canary release over
HTTP to a signed custom endpoint; a restart keeps both. Scaled-out commands refuse to start
without HERALD_SECRET_KEY."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from herald.fakeplatforms import FakePlatforms, FakePlatformsThread
from herald.fakeplatforms.records import Platform
from herald.security.signing import new_webhook_secret
from tests.e2e.processes import HERALD, HeraldProcess, free_port, herald_env, wait_http

TOKEN_LINE = re.compile(r"^\s+(hrld_\S+)\s*$", re.M)
CANARY_EVENTS = ["canary_started", "canary_completed", "full_completed"]
API = "/api/v1/release"


def _embedded_env(database_url: str, port: int) -> dict[str, str]:
    """The e2e environment minus the key: no HERALD_SECRET_KEY, no HERALD_ADMIN_TOKEN."""
    env = herald_env(database_url, HERALD_PORT=str(port))
    del env["HERALD_SECRET_KEY"]
    assert "HERALD_ADMIN_TOKEN" not in env
    return env


def _eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(0.1)


def _start(env: dict[str, str], log: Path, port: int) -> HeraldProcess:
    server = HeraldProcess(["serve"], env, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=server)
    except BaseException:
        server.stop()
        raise
    return server


def _release(http: httpx.Client, hook_url: str, secret: str) -> str:
    """Project, version, a config to the hook for the canary events, and a canary task."""
    project = http.post(f"{API}/projects", json={"name": "e2e-shop"})
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    version = http.post(f"{API}/projects/{pid}/versions", json={"name": "v2.0.0"})
    assert version.status_code == 201, version.text
    channel = {"type": "custom", "config": {"url": hook_url, "signing_secret": secret}}
    config = {"name": "ops hook", "events": CANARY_EVENTS, "channels": [channel]}
    created = http.post(f"{API}/projects/{pid}/callbacks", json=config)
    assert created.status_code == 201, created.text
    task = {
        "project_id": pid,
        "version_id": version.json()["id"],
        "strategy": "canary",
        "environment": "production",
        "hosts": ["web-1", "web-2", "web-3", "web-4"],
        "canary_count": 1,
        "batch_size": 2,
        "executor": {"type": "simulated", "host_seconds": 0.05},
    }
    made = http.post(f"{API}/tasks", json=task)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _wait_status(http: httpx.Client, task_id: str, status: str) -> None:
    _eventually(
        lambda: http.get(f"{API}/tasks/{task_id}").json()["status"] == status, f"task {status}"
    )


def _drive(http: httpx.Client, task_id: str) -> None:
    assert http.post(f"{API}/tasks/{task_id}/start").status_code == 200
    _wait_status(http, task_id, "awaiting_promotion")
    assert http.post(f"{API}/tasks/{task_id}/promote").status_code == 200
    _wait_status(http, task_id, "success")


def _check_notifications(http: httpx.Client, fake: FakePlatforms, task_id: str) -> None:
    events = http.get(f"{API}/tasks/{task_id}/events").json()
    assert [e["event_type"] for e in events] == CANARY_EVENTS

    def history() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = http.get(f"{API}/tasks/{task_id}/callbacks").json()["items"]
        return items if len(items) == 3 and all(i["status"] != "pending" for i in items) else []

    items = _eventually(history, "three final deliveries")
    assert [i["status"] for i in items] == ["success"] * 3
    received = fake.received(Platform.ENDPOINT, "ops")
    assert [json.loads(r.body)["event_type"] for r in received] == CANARY_EVENTS
    assert all(r.signature_valid for r in received)
    assert {r.webhook_id for r in received} == {i["id"] for i in items}


def _check_observability(http: httpx.Client) -> None:
    health = http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert "herald_delivery_attempts_total" in metrics.text


@pytest.mark.slow
def test_serve_with_embedded_defaults_runs_a_release_and_keeps_its_token(tmp_path: Path) -> None:
    database = tmp_path / "herald.db"
    port = free_port()
    env = _embedded_env(f"sqlite:///{database}", port)
    base = f"http://127.0.0.1:{port}"
    secret = new_webhook_secret()
    with FakePlatformsThread() as fake:
        fake.set_endpoint("ops", secret=secret, enforce_signature=True)
        server = _start(env, tmp_path / "serve1.log", port)
        try:
            found = TOKEN_LINE.findall(server.output())
            assert len(found) == 1, server.output()
            token = found[0]
            key_file = tmp_path / "herald.key"
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            key = key_file.read_bytes()
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
                task_id = _release(http, fake.endpoint_url("ops"), secret)
                _drive(http, task_id)
                _check_notifications(http, fake, task_id)
                _check_observability(http)
        finally:
            server.stop()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("herald.db*"))
    assert token.encode() not in stored  # only its hash is kept
    restarted = _start(env, tmp_path / "serve2.log", port)
    try:
        assert "admin API token" not in restarted.output()
        assert token not in restarted.output()
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            projects = http.get(f"{API}/projects")
            assert projects.status_code == 200, projects.text
            assert [p["name"] for p in projects.json()["items"]] == ["e2e-shop"]
            assert http.get(f"{API}/tasks/{task_id}").json()["status"] == "success"
    finally:
        restarted.stop()
    assert key_file.read_bytes() == key


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["api", "worker"])
def test_scaled_out_commands_refuse_to_start_without_a_secret_key(
    pg_url: str, command: str
) -> None:
    env = _embedded_env(pg_url, free_port())
    done = subprocess.run([HERALD, command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "HERALD_SECRET_KEY" in done.stderr, done.stdout + done.stderr

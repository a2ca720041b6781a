"""Scaled-out mode with real processes: two API replicas and two workers on one PostgreSQL.

A canary release created through one replica and driven through the other runs to the end, its
three notifications arrive once each, and killing a replica mid-way loses nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from herald.fakeplatforms import Behaviour, FakePlatformsThread
from tests.conftest import ADMIN_TOKEN
from tests.e2e.processes import HeraldProcess, free_port, herald_env, wait_http

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _post(base: str, path: str, body: Any = None) -> dict[str, Any]:
    r = httpx.post(f"{base}/api/v1/release{path}", json=body, headers=AUTH, timeout=10)
    assert r.status_code in (200, 201), r.text
    answer: dict[str, Any] = r.json()
    return answer


def _get(base: str, path: str) -> Any:
    r = httpx.get(f"{base}/api/v1/release{path}", headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_api_replicas_and_two_workers(pg_url: str, tmp_path: Path) -> None:
    env = herald_env(pg_url, HERALD_ADMIN_TOKEN=ADMIN_TOKEN)
    ports = [free_port(), free_port()]
    procs: list[HeraldProcess] = []
    with FakePlatformsThread() as fake:
        fake.set_endpoint("room", Behaviour.ok())
        try:
            for i, port in enumerate(ports):
                procs.append(
                    HeraldProcess(["api", "--port", str(port)], env, tmp_path / f"api{i}.log")
                )
            for i in range(2):
                procs.append(HeraldProcess(["worker"], env, tmp_path / f"worker{i}.log"))
            a, b = (f"http://127.0.0.1:{p}" for p in ports)
            wait_http(f"{a}/healthz", proc=procs[0])
            wait_http(f"{b}/healthz", proc=procs[1])
            project = _post(a, "/projects", {"name": "scaled"})
            version = _post(a, f"/projects/{project['id']}/versions", {"name": "v9"})
            _post(
                a,
                f"/projects/{project['id']}/callbacks",
                {
                    "events": ["canary_started", "canary_completed", "full_completed"],
                    "channels": [{"type": "custom", "config": {"url": fake.endpoint_url("room")}}],
                },
            )
            task = _post(
                a,
                "/tasks",
                {
                    "project_id": project["id"],
                    "version_id": version["id"],
                    "strategy": "canary",
                    "environment": "production",
                    "hosts": [f"web-{i}" for i in range(6)],
                    "canary_count": 2,
                    "batch_size": 2,
                    "executor": {"type": "simulated", "host_seconds": 0.2},
                },
            )
            _post(b, f"/tasks/{task['id']}/start")
            _until(
                lambda: _get(a, f"/tasks/{task['id']}")["status"] == "awaiting_promotion",
                30,
                "canary",
            )
            procs[0].kill()  # one API replica dies; the other carries on
            _post(b, f"/tasks/{task['id']}/promote")
            _until(
                lambda: _get(b, f"/tasks/{task['id']}")["status"] == "success", 30, "full rollout"
            )
            _until(lambda: fake.endpoint_stats("room").distinct_ids >= 3, 30, "notifications")
            events = [e["event_type"] for e in _get(b, f"/tasks/{task['id']}/events")]
            history = _get(b, f"/tasks/{task['id']}/callbacks")["items"]
        finally:
            for proc in procs:
                proc.stop()
    assert events == ["canary_started", "canary_completed", "full_completed"]
    stats = fake.endpoint_stats("room")
    assert stats.distinct_ids == 3 and stats.duplicate_deliveries == 0
    assert sorted(h["status"] for h in history) == ["success"] * 3

"""Idempotency across API replicas: two `herald api` processes on one PostgreSQL, concurrent
retries of one task creation (same Idempotency-Key) and of one external event sent to both:
exactly one task each, and every retry gets the one answer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.e2e.processes import HeraldProcess, free_port, herald_env, wait_http

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RETRIES = 24


def _burst(urls: list[str], path: str, body: Any, headers: dict[str, str]) -> list[httpx.Response]:
    """`RETRIES` identical requests, alternating between replicas, released all at once."""
    gate = threading.Barrier(RETRIES)

    def one(i: int) -> httpx.Response:
        gate.wait(timeout=30)
        return httpx.post(f"{urls[i % 2]}{path}", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=RETRIES) as pool:
        return list(pool.map(one, range(RETRIES)))


def test_concurrent_retries_on_two_replicas_do_the_work_once(pg_url: str, tmp_path: Path) -> None:
    env = herald_env(pg_url, HERALD_ADMIN_TOKEN=ADMIN_TOKEN)
    ports = [free_port(), free_port()]
    procs = [
        HeraldProcess(["api", "--port", str(port)], env, tmp_path / f"api{i}.log")
        for i, port in enumerate(ports)
    ]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc in zip(urls, procs, strict=True):
            wait_http(f"{url}/healthz", proc=proc)
        r = httpx.post(f"{urls[0]}/api/v1/release/projects", json={"name": "pay"}, headers=AUTH)
        assert r.status_code == 201, r.text
        task = {
            "project": "pay",
            "version": "v1.4.2",
            "strategy": "rolling",
            "environment": "production",
            "hosts": ["h1", "h2"],
            "run_id": "ci-77",
        }
        keyed = {**AUTH, "Idempotency-Key": "ci-77-create"}
        answers = _burst(urls, "/api/v1/release/tasks", task, keyed)
        assert [a.status_code for a in answers] == [201] * RETRIES, answers[0].text
        assert len({a.text for a in answers}) == 1
        replayed = sum(a.headers.get("idempotency-replayed") == "true" for a in answers)
        assert replayed == RETRIES - 1
        event = {
            "project": "pay",
            "version": "v1.4.3",
            "environment": "production",
            "run_id": "ci-78",
            "event": "full_completed",
            "hosts": ["h1"],
        }
        events = _burst(urls, "/api/v1/events", event, AUTH)
        assert sorted(a.status_code for a in events) == [200] * (RETRIES - 1) + [201]
        assert len({a.json()["event_id"] for a in events}) == 1
        listed = httpx.get(
            f"{urls[1]}/api/v1/release/tasks", params={"project": "pay"}, headers=AUTH
        ).json()["items"]
        assert sorted(t["run_id"] for t in listed) == ["ci-77", "ci-78"]
    finally:
        for proc in procs:
            proc.stop()

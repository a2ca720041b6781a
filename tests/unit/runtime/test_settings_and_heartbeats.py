"""Background-loop health and settings validation."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from herald.runtime.heartbeats import Heartbeats, guarded_cycles
from herald.runtime.settings import load_settings, unknown_environment


@pytest.mark.asyncio
async def test_a_failing_cycle_is_retried_and_reported_not_fatal() -> None:
    beats = Heartbeats(silence=60)
    calls = 0

    async def cycle() -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("database is locked")
        if calls >= 4:
            await asyncio.sleep(3600)

    loop = asyncio.create_task(guarded_cycles("delivery", cycle, beats, logging.getLogger("t")))
    for _ in range(200):
        if calls >= 4:
            break
        await asyncio.sleep(0.05)
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    assert calls >= 4
    report = beats.report()["delivery"]
    assert report["ok"] is True and report["last_error"] is None


def test_a_loop_silent_too_long_is_not_ok() -> None:
    beats = Heartbeats(silence=0.0)
    beats.beat("engine")
    beats.failed("engine", "OperationalError: unable to open database file")
    report = beats.report()["engine"]
    assert report["ok"] is False and "unable to open" in str(report["last_error"])


def test_settings_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_SECRET_KEY", "too-short")
    with pytest.raises(ValueError, match="HERALD_SECRET_KEY must be at least 32"):
        load_settings()
    monkeypatch.delenv("HERALD_SECRET_KEY")
    monkeypatch.setenv("HERALD_EGRESS_ALLOW", "127.0.0.1/32,intranet")
    with pytest.raises(ValueError, match="'intranet' is not an IP address or CIDR"):
        load_settings()


def test_unknown_config_file_keys_are_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "herald.toml"
    path.write_text('database_url = "sqlite:///x.db"\ndatabse_url = "typo"\n')
    monkeypatch.setenv("HERALD_CONFIG_FILE", str(path))
    with pytest.raises(ValueError, match="unknown setting\\(s\\) databse_url"):
        load_settings()


def test_unknown_environment_variables_are_listed() -> None:
    env = {
        "HERALD_DATABASE_URL": "x",
        "HERALD_WORKER__CONCURRENCY": "4",
        "HERALD_WORKR__CONCURRENCY": "4",
        "HERALD_SECRETKEY": "x",
        "PATH": "/bin",
    }
    assert unknown_environment(env) == ["HERALD_SECRETKEY", "HERALD_WORKR__CONCURRENCY"]

"""`herald demo --exit` as a new user would run it: a real process that finishes its canary
release and every notification within a minute, on every channel."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.processes import HERALD, free_port

pytestmark = pytest.mark.slow

CHANNELS = ("feishu", "dingtalk", "wechat", "wecom_bot", "custom")
# The demo's release: canary passes, the overtime alert fires while it awaits promotion,
# auto-promotion finishes it with one tolerated failure. No failure or stop events.
RELEASE_EVENTS = ("canary_started", "canary_completed", "long_running", "full_completed")
LINE = re.compile(r"^\s+[\d.]+s\s+(\w+)\s+(\w+)\s+(delivered|FAILED|retrying)\s+\d+ ms", re.M)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}


def _run_demo(cwd: Path, database: str = "demo.db") -> subprocess.CompletedProcess[str]:
    args = [HERALD, "demo", "--exit", "--port", str(free_port()), "--database", database]
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=90)


def test_the_demo_delivers_every_event_on_every_channel_within_a_minute(tmp_path: Path) -> None:
    began = time.monotonic()
    done = _run_demo(tmp_path)
    seconds = time.monotonic() - began
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert seconds < 60, output
    outcomes = {(channel, event): result for channel, event, result in LINE.findall(output)}
    assert set(outcomes) == {(ch, ev) for ch in CHANNELS for ev in RELEASE_EVENTS}, output
    assert set(outcomes.values()) == {"delivered"}, output
    assert "All 20 notifications delivered." in output
    assert "success: 7/8 hosts deployed, 1 failed" in output
    assert re.search(r"export TOKEN=hrld_\S+", output)
    # The demo points at the web UI, on the very release it ran.
    assert re.search(r"Web UI: http://127\.0\.0\.1:\d+/ui/tasks/[0-9a-f-]{36}", output), output
    again = _run_demo(tmp_path)  # the earlier demo database is replaced, not reused
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("export TOKEN=hrld_") == 1


def test_the_demo_refuses_a_database_that_is_not_its_own(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_text("someone else's file")
    refused = _run_demo(tmp_path, str(other))
    assert refused.returncode == 2
    assert "is not a Herald demo database" in refused.stderr
    assert other.read_text() == "someone else's file"

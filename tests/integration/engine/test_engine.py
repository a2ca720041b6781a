"""The release engine against a real store: restarts, command executor, timers."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from herald.bootstrap import Container
from herald.domain.release import Environment, Status, Strategy, Task, TaskSpec, TaskType
from herald.runtime.clock import SystemClock
from herald.runtime.settings import Settings
from tests.conftest import ADMIN_TOKEN, make_settings


def _refs(c: Container) -> tuple[str, str]:
    project = c.catalog.create_project("shop", "")
    version = c.catalog.create_version(project.id, "v2", "")
    return project.id, version.id


def _spec(c: Container, executor: dict[str, object], **kw: object) -> TaskSpec:
    project_id, version_id = _refs(c)
    values: dict[str, Any] = {  # TaskSpec fields, overridden by the test
        "project_id": project_id,
        "version_id": version_id,
        "type": TaskType.DEPLOY,
        "strategy": Strategy.CANARY,
        "environment": Environment.STAGING,
        "hosts": [f"h{i}" for i in range(1, 9)],
        "canary_count": 2,
        "batch_size": 2,
        "executor": executor,
    }
    values.update(kw)
    return TaskSpec(**values)


async def _wait(
    c: Container, task_id: str, ok: Callable[[Task], object], timeout: float = 20.0
) -> Task:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        task = await asyncio.to_thread(c.release.get_task, task_id)
        if ok(task):
            return task
        assert loop.time() < deadline, f"task stuck in {task.status}"
        await asyncio.sleep(0.02)


def _event_types(c: Container, task_id: str) -> list[str]:
    return [row.event_type for row in c.release.task_events(task_id)]


@pytest.mark.asyncio
async def test_engine_restart_mid_task_finishes_without_duplicate_events(
    container: Container,
) -> None:
    spec = _spec(container, {"type": "simulated", "host_seconds": 0.15}, auto_promote_after=0)
    task = container.release.create_task(spec)
    container.release.start(task.id)
    first = asyncio.create_task(container.runner(owner="engine-1").run())
    mid = await _wait(
        container, task.id, lambda t: t.phase and t.phase.value == "full" and len(t.succeeded) >= 4
    )
    assert mid.status is Status.RUNNING
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    paused = container.release.get_task(task.id)
    assert paused.status is Status.RUNNING and len(paused.succeeded) < 8
    second = asyncio.create_task(container.runner(owner="engine-2").run())
    try:
        done = await _wait(container, task.id, lambda t: t.status is Status.SUCCESS)
    finally:
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
    assert len(done.succeeded) == 8
    assert _event_types(container, task.id) == [
        "canary_started",
        "canary_completed",
        "full_completed",
    ]


@pytest.mark.asyncio
async def test_a_crashed_engines_lease_expires_and_another_takes_over(container: Container) -> None:
    spec = _spec(
        container,
        {"type": "simulated", "host_seconds": 0.05},
        strategy=Strategy.ROLLING,
        canary_count=0,
    )
    task = container.release.create_task(spec)
    container.release.start(task.id)
    # An engine that claimed the task and then vanished without releasing its lease.
    crashed = container.runner(owner="crashed")
    await asyncio.to_thread(crashed._claim)
    survivor = asyncio.create_task(container.runner(owner="survivor").run())
    try:
        done = await _wait(container, task.id, lambda t: t.status is Status.SUCCESS, timeout=20)
    finally:
        survivor.cancel()
        await asyncio.gather(survivor, return_exceptions=True)
    assert done.finished_at is not None and done.started_at is not None
    assert (
        done.finished_at - done.started_at
    ).total_seconds() >= container.settings.engine.lease_seconds * 0.9
    assert _event_types(container, task.id) == ["rollout_started", "full_completed"]


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "deploy.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def command_container(store_url: str, tmp_path: Path) -> Container:
    script = _script(
        tmp_path,
        'echo "deploying $HERALD_VERSION of $HERALD_PROJECT to $HERALD_HOST ($HERALD_TASK_ID)"\n'
        'echo "admin=${HERALD_ADMIN_TOKEN:-unset} db=${HERALD_DATABASE_URL:-unset}"\n'
        '[ "$HERALD_HOST" = "h3" ] && { echo "disk full" >&2; exit 3; }\n'
        '[ "$HERALD_HOST" = "h4" ] && sleep 30\n'
        "exit 0\n",
    )
    settings: Settings = make_settings(
        store_url, commands={"deploy-sh": {"argv": [script], "timeout": 1.0, "max_output": 1024}}
    )
    c = Container.build(settings, SystemClock())
    c.tokens.ensure_bootstrap_admin(ADMIN_TOKEN)
    return c


@pytest.mark.asyncio
async def test_command_executor_runs_the_configured_script(
    command_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = command_container
    monkeypatch.setenv("HERALD_ADMIN_TOKEN", "must-not-leak")
    spec = _spec(
        c,
        {"type": "command", "name": "deploy-sh"},
        strategy=Strategy.BLUE_GREEN,
        canary_count=0,
        hosts=["h1", "h2", "h3", "h4"],
        max_failed=2,
    )
    task = c.release.create_task(spec)
    c.release.start(task.id)
    runner = asyncio.create_task(c.runner().run())
    try:
        done = await _wait(c, task.id, lambda t: not t.is_active)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        c.close()
    results = done.results
    assert done.status is Status.SUCCESS  # two failures, two tolerated
    assert results["h1"].exit_code == 0
    assert f"deploying v2 of shop to h1 ({task.id})" in results["h1"].output
    assert "admin=unset db=unset" in results["h1"].output
    assert results["h3"].exit_code == 3 and "disk full" in results["h3"].output
    assert results["h4"].exit_code is None and "killed after 1s timeout" in results["h4"].output
    assert os.environ["HERALD_ADMIN_TOKEN"] == "must-not-leak"


@pytest.mark.asyncio
async def test_long_running_fires_once(container: Container) -> None:
    spec = _spec(container, {"type": "external"}, long_running_after=0.3)
    task = container.release.create_task(spec)
    container.release.start(task.id)
    runner = asyncio.create_task(container.runner().run())
    try:
        await _wait(container, task.id, lambda t: "long_running" in {e.value for e in t.emitted})
        await asyncio.sleep(0.5)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert _event_types(container, task.id) == ["canary_started", "long_running"]

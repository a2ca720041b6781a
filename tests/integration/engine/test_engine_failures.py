"""The engine when storing fails, and tasks that end while hosts deploy (issue 9, defects 6, 7).

- Deploy output is untrusted bytes: NUL and undecodable bytes are stored as U+FFFD.
- A store error while driving a task ends it `failed` with the reason and fires `task_failed`,
  once, instead of retrying in a loop; a database outage is waited out and never fails a task.
- A stopped task settles: hosts deploying are `cancelled`, hosts never started `skipped`, and a
  late result changes neither.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.domain.release import (
    Environment,
    HostStatus,
    Status,
    Strategy,
    Task,
    TaskSpec,
    TaskType,
)
from herald.engine.executors import DeployTarget, Executor, ExecutorSet
from herald.engine.releases import HostReport
from herald.runtime.clock import SystemClock
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.integration.api.helpers import AUTH
from tests.integration.engine.dbproxy import proxied


def _spec(c: Container, executor: dict[str, object], hosts: int = 2, **kw: object) -> TaskSpec:
    project = c.catalog.create_project("shop", "")
    version = c.catalog.create_version(project.id, "v2", "")
    values: dict[str, Any] = {  # TaskSpec fields, overridden by the test
        "project_id": project.id,
        "version_id": version.id,
        "type": TaskType.DEPLOY,
        "strategy": Strategy.ROLLING,
        "environment": Environment.STAGING,
        "hosts": [f"h{i}" for i in range(1, hosts + 1)],
        "batch_size": 2,
        "executor": executor,
    }
    values.update(kw)
    return TaskSpec(**values)


async def _wait(
    c: Container, task_id: str, ok: Callable[[Task], bool], timeout: float = 20
) -> Task:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        task = await asyncio.to_thread(c.release.get_task, task_id)
        if ok(task):
            return task
        assert loop.time() < deadline, f"task stuck: {task.status}, {task.results}"
        await asyncio.sleep(0.05)


def _events(c: Container, task_id: str) -> list[str]:
    return [row.event_type for row in c.release.task_events(task_id)]


def _command_container(store_url: str, tmp_path: Path, body: str) -> Container:
    script = tmp_path / "deploy.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    commands = {"deploy": {"argv": [str(script)], "timeout": 30.0, "max_output": 1024}}
    c = Container.build(make_settings(store_url, commands=commands), SystemClock())
    c.tokens.ensure_bootstrap_admin(ADMIN_TOKEN)
    return c


class Running:
    """The engine of `c` running in the background for the `async with` block."""

    def __init__(self, c: Container) -> None:
        self.c = c
        self.job: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.job = asyncio.create_task(self.c.runner().run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.job is not None
        self.job.cancel()
        await asyncio.gather(self.job, return_exceptions=True)


def _engine_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("herald.") and (r.levelno >= logging.ERROR or r.exc_info)
    ]


# -- defect 6: output that cannot be stored -------------------------------------------------


@pytest.mark.asyncio
async def test_command_output_with_nul_and_bad_bytes_is_stored_and_the_task_finishes(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = _command_container(store_url, tmp_path, "printf 'start\\000middle\\377end\\n'\nexit 0\n")
    try:
        task = c.release.create_task(_spec(c, {"type": "command", "name": "deploy"}))
        c.release.start(task.id)
        async with Running(c):
            done = await _wait(c, task.id, lambda t: not t.is_active)
        assert done.status is Status.SUCCESS, done.reason
        assert done.results["h1"].output == "start\ufffdmiddle\ufffdend\n"
        assert _events(c, task.id) == ["rollout_started", "full_completed"]
        assert _engine_errors(caplog) == []
    finally:
        c.close()


class MisbehavingExecutor:
    """A deploy seam that reports an exit code no store column can hold."""

    async def deploy(self, target: DeployTarget) -> HostReport:
        return HostReport(target.host, True, 2**64, "done")


class Executors(ExecutorSet):
    """The engine's executor lookup, answering every executor type with one seam."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def for_type(self, kind: str) -> Executor | None:
        return self.executor


@pytest.mark.asyncio
async def test_a_store_error_while_driving_fails_the_task_once_with_its_reason(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    c = container
    c.executors = Executors(MisbehavingExecutor())
    task = c.release.create_task(_spec(c, {"type": "simulated", "host_seconds": 0}))
    c.release.start(task.id)
    async with Running(c):
        done = await _wait(c, task.id, lambda t: not t.is_active)
        await asyncio.sleep(1.0)  # time for a retry loop to show itself, if there were one
    assert done.status is Status.FAILED
    assert done.reason is not None and done.reason.startswith("the release engine could not go on")
    assert _events(c, task.id) == ["rollout_started", "task_failed"]
    assert {r.status for r in done.results.values()} == {HostStatus.CANCELLED}
    assert len(_engine_errors(caplog)) == 1  # the one failure, logged once with its traceback


class GatedExecutor:
    """A deploy seam that finishes each host when the test opens the gate."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def deploy(self, target: DeployTarget) -> HostReport:
        self.started.set()
        await self.gate.wait()
        return HostReport(target.host, True, 0, "deployed")


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # an outage of a server
@pytest.mark.asyncio
async def test_a_database_outage_is_waited_out_without_failing_the_task(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with proxied(store_url) as (proxy, url):
        c = Container.build(make_settings(url), SystemClock())
        gated = GatedExecutor()
        c.executors = Executors(gated)
        try:
            task = c.release.create_task(_spec(c, {"type": "simulated"}))
            c.release.start(task.id)
            async with Running(c):
                await asyncio.wait_for(gated.started.wait(), 20)
                await asyncio.sleep(0.3)  # the batch is marked running
                proxy.cut()
                gated.gate.set()  # results arrive while the database is away
                await asyncio.sleep(4.0)
                proxy.start()
                done = await _wait(c, task.id, lambda t: not t.is_active)
        finally:
            c.close()
    assert done.status is Status.SUCCESS, done.reason
    assert _events_via(store_url, task.id) == ["rollout_started", "full_completed"]
    tracebacks = [r for r in caplog.records if r.name.startswith("herald.") and r.exc_info]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]  # an outage is no bug
    warnings = [r for r in caplog.records if r.name.startswith("herald.")]
    assert len(warnings) < 15, [r.getMessage() for r in warnings]


def _events_via(url: str, task_id: str) -> list[str]:
    c = Container.build(make_settings(url), SystemClock())
    try:
        return _events(c, task_id)
    finally:
        c.close()


# -- defect 7: a stopped task settles -------------------------------------------------------


@pytest.mark.asyncio
async def test_stopping_mid_deploy_settles_every_host_for_good(
    store_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "finished"
    c = _command_container(store_url, tmp_path, f"sleep 2\ntouch {marker}\nexit 0\n")
    try:
        task = c.release.create_task(_spec(c, {"type": "command", "name": "deploy"}, hosts=4))
        c.release.start(task.id)
        async with Running(c):
            await _wait(c, task.id, lambda t: t.results["h1"].status is HostStatus.RUNNING)
            await asyncio.to_thread(c.release.stop, task.id, "enough")
            await asyncio.sleep(3.0)  # past the deploy's end: it must have been killed
            late = await asyncio.to_thread(
                c.release.record_results, task.id, [HostReport("h1", True, 0, "late")]
            )
        assert late.results["h1"].status is HostStatus.CANCELLED
        with TestClient(create_app(c)) as client:
            shown = client.get(f"/api/v1/release/tasks/{task.id}", headers=AUTH).json()
            listed = client.get("/api/v1/release/tasks", headers=AUTH).json()["items"][0]
    finally:
        c.close()
    assert shown["status"] == "stopped"
    assert {h["host"]: h["status"] for h in shown["host_results"]} == {
        "h1": "cancelled",
        "h2": "cancelled",
        "h3": "skipped",
        "h4": "skipped",
    }
    counts = {"total": 4, "pending": 0, "running": 0, "success": 0, "failed": 0}
    assert shown["counts"] == listed["counts"] == {**counts, "cancelled": 2, "skipped": 2}
    assert not marker.exists()  # the interrupted deploys were killed, not left to finish

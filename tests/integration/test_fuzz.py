"""The API fuzzed by schemathesis against its own OpenAPI document (SPEC §8, §10).

Every operation gets hypothesis-generated requests (valid and invalid) with the admin token, on a
SQLite store seeded with a project, a version, tasks in several states, a callback config, a
delivery with an attempt and a spare API token. Path parameters are drawn either from what
schemathesis generates (mostly unknown ids: 404) or from those real resources, so the 2xx
responses of every route are validated too. The default checks apply: no 5xx, status codes and
content types documented, response bodies and headers matching the schema, invalid input
rejected, valid input not refused with an undocumented status.

Test sends go through a resolver that refuses every name, so a fuzzed config can never make the
test reach DNS; the seeded config points at a closed port on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.python.asgi
from schemathesis.generation import GenerationMode
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.callbacks.inputs import ConfigIn
from herald.clock import SystemClock
from herald.delivery.testsend import SendTester
from herald.delivery.worker import DEFAULT_ATTEMPTS
from herald.domain.access import Role
from herald.domain.events import EventType
from herald.domain.release import Environment, Status, Strategy, TaskSpec, TaskType
from herald.history import HistoryFilter
from herald.store import delivery
from tests.conftest import ADMIN_TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class NoDns(AbstractResolver):
    """No name resolves: fuzzed configs must never make the test reach a DNS server."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(f"no DNS in tests ({host})")

    async def close(self) -> None:
        return None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class World:
    """Real resources for path parameters, kept alive while operations mutate them."""

    c: Container
    project_id: str
    version_id: str
    config_id: str
    token_id: str
    delivery_ids: list[str]
    tasks: dict[str, str]  # pending | running | stopped → task id
    app: Any = None

    def ids(self) -> dict[str, list[str]]:
        return {
            "project_id": [self.project_id],
            "config_id": [self.config_id],
            "task_id": list(self.tasks.values()),
            "delivery_id": self.delivery_ids,
            "token_id": [self.token_id],
        }

    def task(self, status: Status) -> str:
        spec = TaskSpec(
            project_id=self.project_id,
            version_id=self.version_id,
            type=TaskType.DEPLOY,
            strategy=Strategy.ROLLING,
            environment=Environment.STAGING,
            hosts=["h1", "h2"],
            executor={"type": "external"},
        )
        task = self.c.release.create_task(spec)
        if status is not Status.PENDING:
            self.c.release.start(task.id)
        if status is Status.STOPPED:
            self.c.release.stop(task.id, "seed")
        return task.id

    def config(self) -> str:
        body = ConfigIn.model_validate(
            {
                "name": "fuzz",
                "events": ["task_stopped", "task_failed"],
                "channels": [
                    {
                        "type": "custom",
                        "config": {
                            "url": f"http://127.0.0.1:{_closed_port()}/hook?token=fuzz-secret",
                            "headers": {"Authorization": "Bearer fuzz-header-secret"},
                            "retry_count": 0,
                        },
                    },
                    {
                        "type": "dingtalk",
                        "config": {
                            "webhook_url": f"http://127.0.0.1:{_closed_port()}/robot/send"
                            "?access_token=fuzz-dingtalk-token",
                            "sign_secret": "SECfuzz-dingtalk-secret",
                        },
                    },
                ],
            }
        )
        return self.c.callbacks.create(self.project_id, body, None).id

    def repair(self) -> None:
        """Bring back what the last operation deleted, revoked or moved on."""
        c = self.c
        configs = c.callbacks.configs(visible=None, project_id=None, after=None, limit=1000)
        if self.config_id not in {cfg.id for cfg in configs}:
            self.config_id = self.config()
        if any(t.id == self.token_id and t.revoked_at for t in c.tokens.list(True)):
            self.token_id = c.tokens.create("victim", Role.VIEWER, [self.project_id], None).id
        for wanted in (Status.PENDING, Status.RUNNING):
            if c.release.get_task(self.tasks[wanted.value]).status is not wanted:
                self.tasks[wanted.value] = self.task(wanted)


def build_world(database_url: str) -> World:
    c = Container.build(make_settings(database_url), SystemClock())
    c.tokens.ensure_bootstrap_admin(ADMIN_TOKEN)
    c.test_sender = SendTester(dataclasses.replace(c.worker_parts(), resolver=NoDns()))
    project = c.catalog.create_project("fuzz-project", "seeded for the fuzz test")
    version = c.catalog.create_version(project.id, "v1.0.0", "")
    w = World(c, project.id, version.id, "", "", [], {})
    w.config_id = w.config()
    w.token_id = c.tokens.create("victim", Role.VIEWER, [project.id], None).id
    for status in (Status.PENDING, Status.RUNNING, Status.STOPPED):
        w.tasks[status.value] = w.task(status)
    with c.db.transaction() as uow:  # the stopped task's event becomes pending deliveries
        delivery.fan_out(uow.conn, c.clock.now(), DEFAULT_ATTEMPTS)

    async def test_send() -> list[str]:
        try:
            sent = await c.test_sender.send(w.config_id, EventType.TASK_FAILED, None)
        finally:
            await c.test_sender.aclose()
        return [r.delivery_id for r in sent]

    tested = asyncio.run(test_send())  # failed (connection refused), with an attempt each
    rows, _ = c.history.deliveries(HistoryFilter(), None, 100)
    w.delivery_ids = sorted({r.id for r in rows})  # the tests and the pending event deliveries
    assert set(tested) < set(w.delivery_ids)
    return w


@contextlib.contextmanager
def fresh_world(template: Path, directory: Path) -> Iterator[World]:
    """A seeded store of its own for one operation, so no operation sees another's damage."""
    directory.mkdir()
    shutil.copy(template, directory / "herald.db")
    w = build_world(f"sqlite:///{directory / 'herald.db'}")
    w.app = create_app(w.c)
    try:
        yield w
    finally:
        # Stops the app's lifespan (closing the test sender's HTTP session) if a call started it.
        schemathesis.python.asgi.shutdown_lifespans()
        w.c.close()


FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def fuzz_operation(operation: Any, w: World) -> None:
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ_SETTINGS
    @given(case=strategy, data=st.data())
    def run(case: Any, data: Any) -> None:
        if case.path_parameters and data.draw(st.booleans(), label="real resource"):
            ids = w.ids()
            case.path_parameters = {
                name: data.draw(st.sampled_from(ids[name]), label=name) if name in ids else value
                for name, value in case.path_parameters.items()
            }
        try:
            case.call_and_validate(headers=AUTH, app=w.app)
        finally:
            w.repair()

    run()


def test_api_conforms_to_its_openapi_document(
    sqlite_template: Path, tmp_path: Path, subtests: Any
) -> None:
    with fresh_world(sqlite_template, tmp_path / "schema") as w:
        schema = schemathesis.openapi.from_asgi("/openapi.json", w.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for index, operation in enumerate(operations):
        with subtests.test(msg=operation.label):
            with fresh_world(sqlite_template, tmp_path / f"op{index}") as w:
                fuzz_operation(operation, w)

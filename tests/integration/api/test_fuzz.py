"""The API fuzzed by schemathesis against its own OpenAPI document (SPEC §8, §10).

Every operation gets 25 hypothesis-generated requests (valid and invalid, derandomized) with the
admin token, each operation on a fresh SQLite store seeded with a project, a version, tasks in
several states, a callback config, deliveries with attempts and a spare API token. Path
parameters are either what schemathesis generates (mostly unknown ids: 404) or those real
resources, so the 2xx bodies of every route are validated too (asserted for every GET).

The default checks apply (no 5xx; status codes, content types, headers and bodies as documented;
invalid input rejected). `positive_data_acceptance` (schema-valid input must not get a 4xx other
than 401/403/404/409) is applied by `check_positive_acceptance` with a precise, explained list of
rules JSON Schema cannot state (`SEMANTIC_RULES`); any other refusal of valid input fails.

Schemathesis's pytest plugin (`from_fixture`/`parametrize`) does not run under pytest 9.2 (it
sets `Function._nodeid`), so operations are driven through `APIOperation.as_strategy` with
hypothesis directly, one subtest per operation. Test sends go through a resolver that refuses
every name, so a fuzzed config can never make the test reach DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.python.asgi
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err, Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from herald.access.roles import Principal, Role
from herald.api.app import create_app
from herald.bootstrap import Container
from herald.delivery.testsend import SendTester
from herald.delivery.worker import DEFAULT_ATTEMPTS
from herald.domain.events import EventType
from herald.domain.mutes import MuteScope
from herald.domain.release import Environment, Status, Strategy, TaskSpec, TaskType
from herald.history.mute_windows import MuteRequest
from herald.history.reads import HistoryFilter
from herald.publishing.config_inputs import ConfigIn
from herald.publishing.destination_inputs import DestinationIn
from herald.runtime.clock import SystemClock
from herald.store import fanout as delivery
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.databases import sqlite_database

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
    source_id: str = ""
    mute_id: str = ""
    app: Any = None
    statuses: list[int] = dataclasses.field(default_factory=list)
    destination_id: str = ""

    def ids(self) -> dict[str, list[str]]:
        return {
            "project_id": [self.project_id],
            "config_id": [self.config_id],
            "task_id": list(self.tasks.values()),
            "delivery_id": self.delivery_ids,
            "token_id": [self.token_id],
            "name": ["fuzz-project", "v1.0.0"],  # a project's name, a version's
            "source_id": [self.source_id],
            "mute_id": [self.mute_id],
            "destination_id": [self.destination_id],
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

    def source(self) -> str:
        admin = Principal("t-admin", "admin", Role.ADMIN, frozenset())
        return self.c.inbound.create_source(self.project_id, "flux", "flux", None, admin).id

    def destination(self) -> str:
        body = DestinationIn.model_validate(
            {
                "name": "fuzz-room",
                "type": "custom",
                "config": {"url": f"http://127.0.0.1:{_closed_port()}/room?token=fuzz-secret"},
            }
        )
        return self.c.destinations.create(self.project_id, body, None).id

    def repair(self) -> None:
        """Bring back what the last operation deleted, revoked or moved on."""
        c = self.c
        if self.destination_id not in {
            d.id for d in c.destinations.listed(self.project_id, None, 1000)
        }:
            self.destination_id = self.destination()
        configs = c.callbacks.configs(visible=None, project_id=None, after=None, limit=1000)
        if self.config_id not in {cfg.id for cfg in configs}:
            self.config_id = self.config()
        if any(t.id == self.token_id and t.revoked_at for t in c.tokens.list(True)):
            self.token_id = c.tokens.create("victim", Role.VIEWER, [self.project_id], None).id
        if self.source_id not in {s.id for s in c.inbound.list_sources(self.project_id)}:
            self.source_id = self.source()
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
    w.source_id = w.source()
    w.destination_id = w.destination()
    w.token_id = c.tokens.create("victim", Role.VIEWER, [project.id], None).id
    admin = c.tokens.authenticate(ADMIN_TOKEN)
    assert admin is not None
    window = MuteRequest(MuteScope.PROJECT, project.id, "fuzzing", duration="1d")
    w.mute_id = c.mutes.create(window, admin).id
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
    rows = c.history.deliveries(HistoryFilter(), None, 100)
    w.delivery_ids = sorted({r.id for r in rows})  # the tests and the pending event deliveries
    assert set(tested) < set(w.delivery_ids)
    return w


@contextlib.contextmanager
def fresh_world(template: Path, directory: Path) -> Iterator[World]:
    """A seeded store of its own for one operation, so no operation sees another's damage."""
    directory.mkdir()
    w = build_world(sqlite_database(directory / "herald.db", template))
    w.app = create_app(w.c)
    try:
        yield w
    finally:
        # Stops the app's lifespan (closing the test sender's HTTP session) if a call started it.
        schemathesis.python.asgi.shutdown_lifespans()
        w.c.close()


# Schemathesis's `positive_data_acceptance` check fails any 4xx other than 401/403/404/409 for a
# request that matches the OpenAPI document. It is applied below with exactly these exceptions:
# rules JSON Schema cannot state (or that depend on stored data or operator settings), each
# answered 400/422 with the message matched here. Any other refusal of schema-valid input fails.
SEMANTIC_RULES: list[tuple[str, str]] = [
    # `cursor` is opaque: only values a previous page returned are meaningful. The document gives
    # its length bound; which strings decode to a position cannot be expressed in a schema.
    (r"^cursor is not one this API returned: ", "opaque paging cursor"),
    # Text no store can hold (NUL, unpaired surrogates) is refused in every string, on every
    # route (guide §8); saying so in every string's schema would be noise.
    (r": must not contain (the NUL character|an unpaired surrogate)", "unstorable text"),
    # Cross-field rules of a task: they depend on the number of hosts and on the strategy.
    (r"^canary_count must be at least 1 and less than the number of hosts", "canary vs hosts"),
    (r"^canary_count applies to the canary strategy only", "canary_count vs strategy"),
    (r"^auto_promote_after applies to the canary strategy only", "auto-promote vs strategy"),
    # A multi-step canary's steps: each must add a host of the task (their number decides),
    # they belong to a canary, and a reported step must be one of the task's.
    (r"^canary_steps\[\d+\] deploys no new host", "steps vs hosts"),
    (r"^canary_steps: the last step reaches \d+ hosts", "steps vs hosts"),
    (r"^canary_steps apply to the canary strategy only", "canary_steps vs strategy"),
    (r"^canary_count \(\d+\) must be left out with canary_steps", "canary_count vs steps"),
    (r"^canary_steps\[\d+\]: give a weight", "a step with neither weight nor hosts"),
    (r"^step index must be 1-\d+ for task ", "reported step vs the task's steps"),
    (r"^task \S+ is not a canary: it has no steps to report", "reported step vs strategy"),
    # Command executors name commands the operator configured (HERALD_COMMANDS): settings, not
    # schema.
    (r"^unknown command ", "operator-configured command names"),
    # A version must belong to the task's project; a reported host must be one of the task's
    # hosts: references into stored data.
    (r"^version \S+ belongs to another project", "version of another project"),
    (r"^host .* is not part of task ", "host not in the task"),
    (r"^(channels\.\d+\.id: )?channel \S+ is not part of (this|callback) config", "channel id"),
    # Channel settings are one object per channel type, validated by that type's model (URL
    # shapes, SEC…/whsec_… secrets, header names, the operator's SSRF policy). The document
    # describes `config` as an object; describing each type's settings with a discriminated
    # oneOf would still leave the semantic checks (URL schemes, egress policy) out.
    (r"^channels\.\d+\.config", "per-type channel settings"),
    # Templates are sandboxed Jinja: whether a string parses and renders is not a schema matter.
    (r"^(channels\.\d+\.)?templates\.", "template syntax and sandbox"),
    # Admin tokens cover every project, other roles need at least one: a cross-field rule.
    (r"^admin tokens cover every project", "admin token with projects"),
    (r"^a (maintainer|viewer) token needs at least one project", "scoped token without projects"),
    # A project and a version are named by id or by name: exactly one of each, a cross-field
    # rule; a canary step needs its step; a run's first event creates its task.
    (r"^give exactly one of ", "by id or by name"),
    (r"^canary_step needs step", "a canary step's step"),
    (r"must not exceed step\.total", "step index within the total"),
    (r"^the first event of a run creates its task", "a run's first event"),
    # The release context is a free object in the document; its fields are checked by
    # domain.release_context (guide §4.2). A project may restrict environments (stored data).
    (r"^context", "release context fields"),
    (r"^project .* allows the environments", "the project's environments"),
    # A mute window: exactly one scope key, exactly one of ends_at/duration, an end after its
    # start and after now, at most 90 days, a reason that is not blank: cross-field rules and
    # rules about the current time.
    (r"^scope: give exactly one of", "one mute scope"),
    (r"^give either ends_at or duration", "end or duration"),
    (r"^the window (must end after it starts|would already be over)", "window times"),
    (r"^a mute window lasts at most 90 days", "window length"),
    (r"^give a reason of 1 to", "blank reason"),
    (r"^duration .* is not a duration", "duration syntax (days, hours, minutes)"),
    # A channel is inline (type and config) or a reference to a destination: a cross-field
    # rule; a destination's type is one of the registered channel types (the registry's list).
    (
        r"^(config\.)?channels\.\d+: (type and config|type|config) required, or destination_id",
        "inline or reference",
    ),
    (r"^(channels\.\d+\.)?type: unknown channel type ", "registered channel types"),
    (
        r"^(config\.)?channels\.\d+\.destination_id: destination ",
        "a destination the config may use",
    ),
    (r"^type: a destination's type cannot change", "stored data: the destination's type"),
    # Label keys follow a pattern; OpenAPI 3.0 cannot constrain object keys (propertyNames).
    (r"^(project_)?labels\.", "label keys and values"),
]


def check_positive_acceptance(case: Any, response: Any) -> None:
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if response.status_code not in (400, 422):
        return  # 2xx, 401/403/404/409 are accepted; 5xx and undocumented codes fail elsewhere
    message = response.json()["error"]["message"]
    assert any(re.search(rule, message) for rule, _ in SEMANTIC_RULES), (
        f"schema-valid request refused with {response.status_code}: {message}\n"
        f"{case.as_curl_command()}"
    )


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
            if case.query and "cursor" in case.query:
                # A generated cursor is almost never one the API issued (400): page from the
                # start, so the real resource's 2xx answer gets validated.
                case.query = {k: v for k, v in case.query.items() if k != "cursor"}
        try:
            response = case.call_and_validate(
                headers=AUTH, app=w.app, excluded_checks=[positive_data_acceptance]
            )
            w.statuses.append(response.status_code)
            check_positive_acceptance(case, response)
        finally:
            w.repair()

    run()


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(
    sqlite_template: Path, tmp_path: Path, subtests: Any
) -> None:
    with fresh_world(sqlite_template, tmp_path / "schema") as w:
        schema = schemathesis.openapi.from_asgi("/openapi.json", w.app)
    # Bodies over the cap are refused with the documented 413 before any field is read.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    loaded = list(schema.get_all_operations())
    assert [r.err() for r in loaded if isinstance(r, Err)] == []
    operations = [r.ok() for r in loaded if isinstance(r, Ok)]
    assert len(operations) >= 30
    for index, operation in enumerate(operations):
        with (
            subtests.test(msg=operation.label),
            fresh_world(sqlite_template, tmp_path / f"op{index}") as w,
        ):
            fuzz_operation(operation, w)
            if operation.method.upper() == "GET":
                # Real resources were reached: 2xx bodies were validated, not only errors.
                assert any(200 <= s < 300 for s in w.statuses), (operation.label, w.statuses)

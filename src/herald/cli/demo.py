"""`herald demo`: a canary release whose notifications arrive on local fake platforms.

One process and one event loop run the fake Feishu / DingTalk / WeCom / webhook receivers
(`herald.fakeplatforms`), Herald's API on uvicorn with its release engine and delivery worker
(the parts `herald serve` runs), and a narrator that creates the demo project, starts a canary
release and prints every delivery attempt as the history records it. Nothing leaves 127.0.0.1:
egress is allowed to 127.0.0.1/32 only, and the API listens on 127.0.0.1.

The database belongs to the demo. Its secrets are sealed with a key made for the run and never
stored, so a file left by an earlier demo (one whose only project is the demo's) is replaced;
any other file is refused rather than touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from herald.api.app import create_app
from herald.bootstrap import Container
from herald.domain.delivery import DeliveryStatus
from herald.domain.events import EVENT_TYPES
from herald.domain.release import Environment, Phase, Status, Strategy, Task, TaskSpec, TaskType
from herald.fakeplatforms import FakePlatforms, running_fake_platforms
from herald.fakeplatforms.records import Platform
from herald.history.reads import DeliveryView, HistoryFilter
from herald.observability.log_setup import setup_logging
from herald.publishing.config_inputs import ConfigIn
from herald.runtime.settings import Settings
from herald.security.encryption import generate_key
from herald.security.signing import new_webhook_secret
from herald.store import migrate

PROJECT = "demo-shop"
HOSTS = tuple(f"shop-{n}" for n in range(1, 9))
FAILING_HOST = "shop-7"  # in the full phase, so the canary passes and the messages count it
HOST_SECONDS = 0.3
AUTO_PROMOTE_AFTER = 3.0
LONG_RUNNING_AFTER = 2.0  # fires while the canary awaits promotion: shows the overtime alert
DEADLINE_S = 60.0  # the SPEC's promise: notifications within a minute
POLL_S = 0.1
LISTEN_HOST = "127.0.0.1"

Say = Callable[[str], None]
CHANNEL_OF = {  # the channel type whose messages each fake platform receives
    Platform.FEISHU: "feishu",
    Platform.DINGTALK: "dingtalk",
    Platform.WECOM_APP: "wechat",
    Platform.WECOM_BOT: "wecom_bot",
    Platform.ENDPOINT: "custom",
}


class DemoError(Exception):
    """The demo cannot start; the message tells the user what to change."""


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8080
    database: Path = Path("herald-demo.db")
    exit_when_done: bool = False  # stop once the release and its deliveries are final


def run_demo(base: Settings, options: DemoOptions, say: Say) -> int:
    """Run the demo until Ctrl-C (or, with `exit_when_done`, until every delivery is final).

    Returns the exit code: 0 when every notification of the release was delivered (or the
    user stopped the demo), 1 otherwise. Raises `DemoError` when it cannot start.
    """
    with contextlib.closing(_listen(options.port)) as sock:
        settings = demo_settings(base, prepare_database(options.database), options.port)
        setup_logging("WARNING", settings.log_format)  # the narration is the demo's output
        container = Container.build(settings, embedded=True)
        try:
            token = container.tokens.ensure_bootstrap_admin(None)
            if token is None:  # cannot happen on the fresh database; never show a stale token
                raise DemoError("the demo database already had an admin token")
            return asyncio.run(_main(container, token, sock, options, say))
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
            say("demo stopped")
            return 0
        finally:
            container.close()


def _listen(port: int) -> socket.socket:
    """Bind the API port first, so a busy port is a clear message rather than a log line."""
    try:
        return socket.create_server((LISTEN_HOST, port))
    except OSError as exc:
        raise DemoError(
            f"cannot listen on {LISTEN_HOST}:{port} ({exc.strerror}); is `herald serve` running? "
            "Choose another port with --port"
        ) from None


def prepare_database(path: Path) -> str:
    """Replace an earlier demo database at `path` with a freshly migrated one; its URL.

    Raises `DemoError` if `path` holds anything but a demo database.
    """
    if path.exists() and path.stat().st_size > 0:
        _check_replaceable(path)
    for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


def _check_replaceable(path: Path) -> None:
    refusal = f"{path} exists and is not a Herald demo database; choose another --database"
    names = migrate.sqlite_project_names(path)
    if names is None:
        raise DemoError(refusal)
    if names != {PROJECT}:  # a Herald database without projects may still hold tokens
        raise DemoError(f"{refusal} (its projects: {', '.join(sorted(names)) or 'none'})")


def demo_settings(base: Settings, database_url: str, port: int) -> Settings:
    """`base` (locale, log format, tuning) with the demo's store, address, key and egress."""
    return base.with_overrides(
        database_url=database_url,
        host=LISTEN_HOST,
        port=port,
        public_url=None,
        admin_token=None,
        secret_key=SecretStr(generate_key()),
        old_secret_keys=[],
        egress_allow=["127.0.0.1/32"],
    )


async def _main(
    c: Container, token: str, sock: socket.socket, options: DemoOptions, say: Say
) -> int:
    async with running_fake_platforms(LISTEN_HOST) as fake:
        receivers = Receivers()
        receivers.register(fake)
        api = create_app(c, background=[c.runner().run, c.worker().run])
        server = uvicorn.Server(uvicorn.Config(api, log_config=None, access_log=False))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await _started(server, serving)
            narrator = Narrator(say, lambda: server.should_exit)
            ok = await _narrate(c, fake, receivers, token, narrator)
        except Exception:
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
            raise
        if options.exit_when_done:
            server.should_exit = True
        if not server.should_exit:
            say(f"\nHerald keeps serving on {c.settings.base_url}; press Ctrl-C to stop.")
        await serving
    return 0 if ok else 1


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    while not server.started:
        if serving.done():
            serving.result()  # re-raises why it stopped
            raise DemoError("the API server stopped during start-up")
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Receivers:
    """Credentials of the five fake receivers, fresh for every run."""

    feishu_token: str = field(default_factory=lambda: secrets.token_hex(12))
    feishu_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    dingtalk_token: str = field(default_factory=lambda: secrets.token_hex(32))
    dingtalk_secret: str = field(default_factory=lambda: "SEC" + secrets.token_hex(32))
    corp_id: str = field(default_factory=lambda: "ww" + secrets.token_hex(8))
    wecom_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    wecom_bot_key: str = field(default_factory=lambda: secrets.token_hex(16))
    webhook_secret: str = field(default_factory=new_webhook_secret)
    agent_id: int = 1000002
    endpoint: str = "release-hook"
    users: tuple[str, ...] = ("zhangsan", "lisi")

    def register(self, fake: FakePlatforms) -> None:
        """Signed Feishu bot and DingTalk robot, a WeCom app and group bot, and a webhook
        endpoint that rejects requests without a valid Standard Webhooks signature."""
        fake.add_feishu_bot(self.feishu_token, secret=self.feishu_secret)
        fake.add_dingtalk_robot(self.dingtalk_token, secret=self.dingtalk_secret)
        fake.add_wecom_app(self.corp_id, self.wecom_secret, self.agent_id, self.users)
        fake.add_wecom_bot(self.wecom_bot_key)
        fake.set_endpoint(self.endpoint, secret=self.webhook_secret, enforce_signature=True)

    def channels(self, fake: FakePlatforms) -> list[dict[str, Any]]:
        """The callback channels (PRD §4.1 shape) that point Herald at the fakes."""
        feishu = {
            "webhook_url": fake.feishu_url(self.feishu_token),
            "sign_secret": self.feishu_secret,
        }
        dingtalk = {
            "webhook_url": fake.dingtalk_url(self.dingtalk_token),
            "sign_secret": self.dingtalk_secret,
        }
        wechat = {
            "corp_id": self.corp_id,
            "agent_id": self.agent_id,
            "secret": self.wecom_secret,
            "to_user": "|".join(self.users),
            "api_base": fake.wecom_api_base,
        }
        wecom_bot = {"webhook_url": fake.wecom_bot_url(self.wecom_bot_key)}
        custom = {"url": fake.endpoint_url(self.endpoint), "signing_secret": self.webhook_secret}
        configs = {"feishu": feishu, "dingtalk": dingtalk, "wechat": wechat}
        configs |= {"wecom_bot": wecom_bot, "custom": custom}
        return [{"type": kind, "config": config} for kind, config in configs.items()]


def create_release(c: Container, channels: list[dict[str, Any]]) -> Task:
    """The demo project and version, a config subscribing every event on every channel, and
    a pending canary task (8 hosts, 2 canaries, one failing host tolerated)."""
    project = c.catalog.create_project(PROJECT, "created by `herald demo`")
    version = c.catalog.create_version(project.id, "v1.0.0", "the demo release")
    config = {"name": "demo: every event, every channel", "events": list(EVENT_TYPES)}
    c.callbacks.create(project.id, ConfigIn.model_validate({**config, "channels": channels}), None)
    spec = TaskSpec(
        project_id=project.id,
        version_id=version.id,
        type=TaskType.DEPLOY,
        strategy=Strategy.CANARY,
        environment=Environment.PRODUCTION,
        hosts=HOSTS,
        canary_count=2,
        batch_size=3,
        max_failed=1,
        executor={"type": "simulated", "host_seconds": HOST_SECONDS, "fail_hosts": [FAILING_HOST]},
        auto_promote_after=AUTO_PROMOTE_AFTER,
        long_running_after=LONG_RUNNING_AFTER,
    )
    return c.release.create_task(spec)


@dataclass
class Snapshot:
    """What the narrator reads each poll: the task, its events and its deliveries."""

    task: Task
    events: int
    channels: int
    deliveries: list[DeliveryView]  # oldest first

    @property
    def settled(self) -> bool:
        """The task finished, and every event has a delivery per channel, each final."""
        return (
            not self.task.is_active
            and len(self.deliveries) >= self.events * self.channels
            and all(d.status != DeliveryStatus.PENDING for d in self.deliveries)
        )


def snapshot(c: Container, task_id: str, channels: int) -> Snapshot:
    task = c.release.get_task(task_id)
    events = len(c.release.task_events(task_id))
    views = c.history.deliveries(HistoryFilter(task_id=task_id), None, 1000)
    return Snapshot(task, events, channels, list(reversed(views)))


@dataclass
class Narrator:
    """Follows the release, printing what changed since the previous look with the time since
    `follow` began; `stopping` tells it the server is shutting down, so nothing more comes."""

    say: Say
    stopping: Callable[[], bool]
    started: float = 0.0
    status: tuple[str, str | None] | None = None
    attempts_seen: dict[str, int] = field(default_factory=dict)

    async def follow(self, c: Container, task_id: str, channels: int) -> Snapshot:
        """Print progress until the release settles, the server stops or the deadline passes."""
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        while True:
            snap = await asyncio.to_thread(snapshot, c, task_id, channels)
            self.show(snap, loop.time())
            if snap.settled or self.stopping() or loop.time() - self.started > DEADLINE_S:
                return snap
            await asyncio.sleep(POLL_S)

    def line(self, now: float, who: str, what: str) -> None:
        self.say(f"  {now - self.started:5.1f}s  {who:<10} {what}")

    def show(self, snap: Snapshot, now: float) -> None:
        task = snap.task
        state = (task.status.value, task.phase.value if task.phase else None)
        if state != self.status:
            self.status = state
            self.line(now, "release", _task_story(task))
        for row in snap.deliveries:
            tried = row.latency_ms is not None  # the view carries its latest attempt's figures
            if not tried or row.attempts <= self.attempts_seen.get(row.id, 0):
                continue
            self.attempts_seen[row.id] = row.attempts
            self.line(now, row.channel_type, _delivery_story(row))


def _task_story(task: Task) -> str:
    done = f"{len(task.succeeded)}/{len(task.hosts)} hosts deployed, {len(task.failed)} failed"
    if task.status is Status.RUNNING and task.phase is Phase.CANARY:
        return f"canary started on {', '.join(task.canary_hosts)}"
    if task.status is Status.AWAITING_PROMOTION:
        return f"canary healthy, awaiting promotion (automatic after {AUTO_PROMOTE_AFTER:g} s)"
    if task.status is Status.RUNNING:
        return f"promoted: rolling out to the other hosts, {HOST_SECONDS:g} s each"
    if task.status is Status.SUCCESS:
        return f"success: {done} (up to {task.spec.max_failed} tolerated)"
    return f"{task.status.value}: {task.reason or ''} ({done})"


_STORY = {DeliveryStatus.SUCCESS: "delivered", DeliveryStatus.FAILED: "FAILED"}


def _delivery_story(row: DeliveryView) -> str:
    outcome = _STORY.get(row.status, "retrying")
    error = f"  {row.error}" if row.status != DeliveryStatus.SUCCESS and row.error else ""
    return f"{row.event_type:<17} {outcome:<10} {row.latency_ms or 0.0:5.0f} ms{error}"


async def _narrate(
    c: Container, fake: FakePlatforms, receivers: Receivers, token: str, narrator: Narrator
) -> bool:
    """Create and start the release, follow it, then print the summary and how to explore.
    True when every notification of the release was delivered."""
    channels = receivers.channels(fake)
    task = await asyncio.to_thread(create_release, c, channels)
    narrator.say(_intro(c, fake))
    await asyncio.to_thread(c.release.start, task.id)
    snap = await narrator.follow(c, task.id, len(channels))
    if not snap.settled and narrator.stopping():
        narrator.say("\nStopped before the release and its notifications finished.")
        return False
    ok = snap.settled and all(d.status == DeliveryStatus.SUCCESS for d in snap.deliveries)
    if not snap.settled:
        narrator.say(f"\nThe release or its notifications did not finish in {DEADLINE_S:g} s.")
    seconds = asyncio.get_running_loop().time() - narrator.started
    accepted = Counter(CHANNEL_OF.get(r.platform) for r in fake.received(delivered=True))
    narrator.say(_summary(snap, accepted, seconds, ok))
    narrator.say(_explore(c.settings.base_url, token, snap.task))
    return ok


def _intro(c: Container, fake: FakePlatforms) -> str:
    return "\n".join(
        [
            f"Herald demo: API on {c.settings.base_url} (docs at {c.settings.base_url}/docs)",
            f"Fake Feishu, DingTalk, WeCom and a webhook receiver on {fake.base_url}",
            f"Project {PROJECT!r}: one callback config, all six events to five channels "
            "(wechat is the WeCom app channel, as the PRD names it).",
            f"Canary release of {len(HOSTS)} hosts (2 canaries, {HOST_SECONDS:g} s per host, "
            f"{FAILING_HOST} fails and is tolerated, auto-promotion after "
            f"{AUTO_PROMOTE_AFTER:g} s, overtime alert after {LONG_RUNNING_AFTER:g} s):\n",
        ]
    )


def _summary(snap: Snapshot, accepted: Counter[str | None], seconds: float, ok: bool) -> str:
    lines = [f"\nSummary after {seconds:.1f} s ({snap.events} events of task {snap.task.id}):"]
    for kind in dict.fromkeys(row.channel_type for row in snap.deliveries):
        rows = [row for row in snap.deliveries if row.channel_type == kind]
        lines.append(
            f"  {kind:<10} {sum(r.status == DeliveryStatus.SUCCESS for r in rows)}/{len(rows)}"
            " delivered"
            f"   (the fake platform accepted {accepted[kind]})"
        )
    expected = snap.events * snap.channels
    delivered = sum(row.status == DeliveryStatus.SUCCESS for row in snap.deliveries)
    lines.append(
        f"All {expected} notifications delivered."
        if ok
        else f"Not done: {delivered} of {expected} delivered, the task is {snap.task.status}; "
        "the history below says more."
    )
    return "\n".join(lines)


def _explore(base_url: str, token: str, task: Task) -> str:
    api = f"{base_url}/api/v1/release"
    return "\n".join(
        [
            "\nLook at the history (the admin token is shown once; it is stored only as a hash):",
            f"  Web UI: {base_url}/ui/tasks/{task.id}  (paste the token when it asks)",
            f"  export TOKEN={token}",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {api}/tasks/{task.id}/events',
            f'  curl -s -H "Authorization: Bearer $TOKEN" {api}/tasks/{task.id}/callbacks',
            f'  curl -s -H "Authorization: Bearer $TOKEN" '
            f"'{api}/callbacks/stats?project_id={task.spec.project_id}'",
            f"  API explorer: {base_url}/docs",
        ]
    )

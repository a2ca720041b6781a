"""SSRF guard at delivery time (SPEC §10): internal addresses are refused before any connection.

Configs are saved through a container whose operator allows every address (so the save-time
check lets them in, as it would after an operator narrowed `HERALD_EGRESS_ALLOW`), then delivered
by a worker whose policy allows nothing internal. Every delivery must fail at once with outcome
`blocked` and a history error naming the address and `HERALD_EGRESS_ALLOW`, while:

- listening servers on the loopback ports see no connection at all;
- a spy on the event loop's `sock_connect`/`create_connection` sees no connection attempt (it also
  refuses any non-loopback address, so a regression could never reach the network);
- the DNS seam is asked only about real names, never about IP literals in disguise.

Redirects are never followed: an allowed endpoint answering 3xx fails the delivery permanently
and the redirect target is never contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from herald.bootstrap import Container
from herald.channels.config_base import ChannelConfig
from herald.channels.custom import CustomConfig
from herald.delivery.testsend import SendTester
from herald.delivery.worker import DeliveryWorker
from herald.domain.errors import InvalidInput
from herald.domain.events import EventType
from herald.fakeplatforms import Behaviour, running_fake_platforms
from herald.runtime.clock import SystemClock
from herald.security.egress import ALLOW_SETTING
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.integration.delivery.delivery_support import (
    add_config,
    add_config_saved_earlier,
    all_final,
    attempt_rows,
    custom_channel,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)

PUBLIC_IP = "93.184.216.34"  # only ever handed out by the fake resolver; never dialled
NAMES = {
    "hooks.evil.test": ["127.0.0.1"],
    # Rebinding-style answer: one public address and one internal. Any denied address refuses
    # the whole name, so the public one is not dialled either.
    "mixed.evil.test": [PUBLIC_IP, "127.0.0.1"],
    "v6.evil.test": ["::1"],
}


class FakeResolver(AbstractResolver):
    """The DNS seam: answers the test names, refuses everything else (no real DNS)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in NAMES:
            raise OSError(f"no DNS in tests ({host})")
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in NAMES[host]
        ]

    async def close(self) -> None:
        return None


@dataclasses.dataclass
class Listener:
    """Raw TCP servers on one port of 127.0.0.1 (and ::1), counting accepted connections."""

    port: int
    connections: int = 0


@contextlib.asynccontextmanager
async def listening() -> AsyncIterator[Listener]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener.connections += 1
        writer.close()

    first = await asyncio.start_server(accept, "127.0.0.1", 0)
    listener = Listener(first.sockets[0].getsockname()[1])
    servers = [first]
    with contextlib.suppress(OSError):  # no IPv6 loopback here: the spy still watches
        servers.append(await asyncio.start_server(accept, "::1", listener.port))
    try:
        yield listener
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


def _is_loopback(host: Any) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def connection_spy(loop: asyncio.AbstractEventLoop) -> Iterator[list[Any]]:
    """Record every outgoing connection attempt made on `loop`; refuse non-loopback ones."""
    attempts: list[Any] = []
    sock_connect, create_connection = loop.sock_connect, loop.create_connection

    async def spy_sock_connect(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        if not _is_loopback(address[0]):
            raise OSError(f"test refused a connection to {address[0]}")
        await sock_connect(sock, address)

    async def spy_create_connection(*args: Any, **kwargs: Any) -> Any:
        host = kwargs.get("host", args[1] if len(args) > 1 else None)
        if host is not None:
            attempts.append((host, kwargs.get("port", args[2] if len(args) > 2 else None)))
            if not _is_loopback(host):
                raise OSError(f"test refused a connection to {host}")
        return await create_connection(*args, **kwargs)

    # Spies on the running loop's own methods, which typeshed declares read-only.
    loop.sock_connect = spy_sock_connect  # type: ignore[method-assign]
    loop.create_connection = spy_create_connection  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        del loop.sock_connect, loop.create_connection


# url template ({port}: the counting listener), what the history must name
TARGETS = [
    ("http://127.0.0.1:{port}/hook", "127.0.0.1", "loopback"),
    ("http://localhost:{port}/hook", "localhost", "loopback"),
    ("http://LOCALHOST.:{port}/hook", "localhost.", "loopback"),
    ("http://0x7f000001:{port}/hook", "127.0.0.1", "loopback"),
    ("http://2130706433:{port}/hook", "127.0.0.1", "loopback"),
    ("http://0177.0.0.1:{port}/hook", "127.0.0.1", "loopback"),
    ("http://127.1:{port}/hook", "127.0.0.1", "loopback"),
    ("http://0.0.0.0:{port}/hook", "0.0.0.0", "unspecified"),  # noqa: S104 - a target, not a bind
    ("http://[::1]:{port}/hook", "::1", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "127.0.0.1", "loopback"),
    ("http://[0:0:0:0:0:ffff:7f00:1]:{port}/hook", "127.0.0.1", "loopback"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data", "fd00:ec2::254", "metadata"),
    ("http://100.100.100.200/latest/meta-data", "100.100.100.200", "metadata"),
    ("http://10.0.0.1/hook", "10.0.0.1", "private"),
    ("http://192.168.1.1/hook", "192.168.1.1", "private"),
    ("http://hooks.evil.test:{port}/hook", "hooks.evil.test at 127.0.0.1", "loopback"),
    ("http://mixed.evil.test:{port}/hook", "mixed.evil.test at 127.0.0.1", "loopback"),
    ("http://v6.evil.test:{port}/hook", "v6.evil.test at ::1", "loopback"),
]
NAMED = sorted(NAMES)


def _containers(store_url: str, resolver: FakeResolver) -> tuple[Container, Container]:
    """(permissive: saves anything; strict: the worker's policy allows nothing internal)."""
    permissive = Container.build(
        make_settings(store_url, egress_allow=["0.0.0.0/0", "::/0"]), SystemClock()
    )
    strict = Container.build(make_settings(store_url, egress_allow=[]), SystemClock())
    strict.tokens.ensure_bootstrap_admin(ADMIN_TOKEN)
    strict.test_sender = SendTester(dataclasses.replace(strict.worker_parts(), resolver=resolver))
    return permissive, strict


def _url(config: ChannelConfig) -> str:
    assert isinstance(config, CustomConfig), config
    return config.url


@pytest.mark.asyncio
async def test_internal_addresses_are_refused_before_any_connection(store_url: str) -> None:
    resolver = FakeResolver()
    permissive, strict = _containers(store_url, resolver)
    try:
        async with listening() as listener:
            urls = [template.format(port=listener.port) for template, _, _ in TARGETS]
            project_id, version_id = make_project(permissive)
            # Saved before the save-time spelling rule (so odd spellings are in the store).
            settings = [{"url": u, "retry_count": 3, "retry_interval": 0} for u in urls]
            cid = add_config_saved_earlier(permissive, project_id, settings)
            config = strict.callbacks.get(cid)  # every URL was saved as written
            assert [_url(ch.config) for ch in config.channels] == urls
            emit_stopped_tasks(permissive, project_id, version_id, 1)

            loop = asyncio.get_running_loop()
            parts = dataclasses.replace(strict.worker_parts(), resolver=resolver)
            with connection_spy(loop) as attempts:
                job = asyncio.create_task(DeliveryWorker(parts, "strict").run())
                try:
                    await eventually(lambda: len(delivery_rows(strict)) == len(urls))
                    await eventually(lambda: all_final(strict))
                finally:
                    job.cancel()
                    await asyncio.gather(job, return_exceptions=True)
                # The test-send path shares the guard.
                try:
                    tested = await strict.test_sender.send(cid, EventType.TASK_FAILED, None)
                finally:
                    await strict.test_sender.aclose()
            await asyncio.sleep(0.1)  # a connection in flight would have been accepted by now

        assert attempts == [], f"connection attempts: {attempts}"
        assert listener.connections == 0
        # Only real names reached the DNS seam; the literals (hex, decimal, octal, mapped…) and
        # localhost were judged without it. Each name was asked at least once.
        assert set(resolver.asked) == set(NAMED), resolver.asked

        by_channel = {ch.id: (_url(ch.config), i) for i, ch in enumerate(config.channels)}
        failures = []
        for row in delivery_rows(strict, kind="event"):
            url, i = by_channel[row.channel_id]
            _, shown, reason = TARGETS[i]
            (attempt,) = attempt_rows(strict, row.id)  # not retried
            ok = (
                row.status == "failed"
                and row.last_outcome == "blocked"
                and attempt.outcome == "blocked"
                and attempt.response_status is None
                and f"refused to connect to {shown} (" in row.last_error
                and reason in row.last_error
                and ALLOW_SETTING in row.last_error
                and attempt.error == row.last_error
                and attempt.latency_ms < 1000
            )
            if not ok:
                failures.append((url, row.status, row.last_outcome, row.last_error))
        assert not failures, failures
        assert len(tested) == len(urls)
        assert all(t.outcome == "blocked" and ALLOW_SETTING in t.message for t in tested), [
            (t.outcome, t.message) for t in tested
        ]
        # The history API shows the same clear error.
        detail = strict.history.detail(delivery_rows(strict, kind="event")[0].id)
        assert ALLOW_SETTING in (detail.error or "")
    finally:
        permissive.close()
        strict.close()


@pytest.mark.asyncio
async def test_the_control_allowed_loopback_is_reached(container: Container) -> None:
    """The instruments work: with 127.0.0.1/32 allowed, the listener and the spy see the
    connection the blocked cases never make."""
    loop = asyncio.get_running_loop()
    async with listening() as listener:
        project_id, version_id = make_project(container)
        url = f"http://127.0.0.1:{listener.port}/hook"
        add_config(container, project_id, [custom_channel(url, retry_count=0)])
        emit_stopped_tasks(container, project_id, version_id, 1)
        with connection_spy(loop) as attempts:
            async with running_worker(container):
                await eventually(lambda: all_final(container))
        await eventually(lambda: listener.connections > 0)
    assert ("127.0.0.1", listener.port) in [tuple(a[:2]) for a in attempts]
    (row,) = delivery_rows(container)
    assert row.last_outcome == "retryable"  # the listener hangs up without answering


def test_the_same_urls_are_refused_at_save_time_without_an_allowance(store_url: str) -> None:
    """The first line of defence: literals and localhost are refused when saved (names are
    only judged when a delivery connects, since DNS answers change); odd spellings of an
    address are refused for their spelling, saying what to write instead."""
    c = Container.build(make_settings(store_url, egress_allow=[]), SystemClock())
    try:
        project_id, _ = make_project(c)
        for template, _shown, _reason in TARGETS:
            url = template.format(port=8080)
            if ".evil.test" in url:
                continue
            with pytest.raises(InvalidInput, match=f"{ALLOW_SETTING}|; write |trailing dot"):
                add_config(c, project_id, [custom_channel(url)])
    finally:
        c.close()


REDIRECTS = [
    pytest.param(302, "allowed", id="302-to-an-allowed-endpoint"),
    pytest.param(307, "allowed", id="307-to-an-allowed-endpoint"),
    pytest.param(301, "loopback", id="301-to-a-denied-loopback-address"),
    pytest.param(308, "metadata", id="308-to-the-metadata-address"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "target"), REDIRECTS)
async def test_redirects_are_never_followed(container: Container, status: int, target: str) -> None:
    loop = asyncio.get_running_loop()
    async with running_fake_platforms() as fake, listening() as other:
        fake.set_endpoint("second", Behaviour.ok())
        location = {
            "allowed": fake.endpoint_url("second"),
            # 127.0.0.2 is loopback but outside the worker's 127.0.0.1/32 allowance.
            "loopback": f"http://127.0.0.2:{other.port}/hook",
            "metadata": "http://169.254.169.254/latest/meta-data",
        }[target]
        fake.set_endpoint("first", Behaviour.redirect(location, status))
        project_id, version_id = make_project(container)
        add_config(
            container,
            project_id,
            [custom_channel(fake.endpoint_url("first"), retry_count=3, retry_interval=1)],
        )
        emit_stopped_tasks(container, project_id, version_id, 1)
        with connection_spy(loop) as attempts:
            async with running_worker(container):
                await eventually(lambda: all_final(container))
        first, second = fake.endpoint_stats("first"), fake.endpoint_stats("second")
    (row,) = delivery_rows(container)
    (attempt,) = attempt_rows(container, row.id)
    assert row.status == "failed" and row.last_outcome == "permanent"
    assert attempt.response_status == status
    assert "redirects are not followed" in row.last_error
    assert first.requests == 1 and second.requests == 0
    assert other.connections == 0
    fake_port = int(fake.base_url.rsplit(":", 1)[1])
    assert {a[1] for a in attempts} == {fake_port}, attempts  # only the first endpoint's server


@contextlib.asynccontextmanager
async def guarded_worker(c: Container, resolver: FakeResolver) -> AsyncIterator[None]:
    """`c`'s worker with the test DNS seam (no real DNS)."""
    parts = dataclasses.replace(c.worker_parts(), resolver=resolver)
    job = asyncio.create_task(DeliveryWorker(parts, "strict").run())
    try:
        yield
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_wecom_app_refused_by_the_guard_is_blocked_not_permanent(store_url: str) -> None:
    """Issue 9: gettoken to a refused address ends as `blocked` (as documented), for real
    deliveries and test sends alike, and is not retried."""
    resolver = FakeResolver()
    permissive, strict = _containers(store_url, resolver)
    try:
        async with listening() as listener:
            project_id, version_id = make_project(permissive)
            app = {
                "corp_id": "wwcorp01",
                "agent_id": 1000002,
                "secret": "wc-app-secret-0123456789",
                "api_base": f"http://127.0.0.1:{listener.port}",
            }
            cid = add_config(permissive, project_id, [{"type": "wechat", "config": app}])
            emit_stopped_tasks(permissive, project_id, version_id, 1)
            async with guarded_worker(strict, resolver):
                await eventually(lambda: all_final(strict))
            try:
                (tested,) = await strict.test_sender.send(cid, EventType.TASK_FAILED, None)
            finally:
                await strict.test_sender.aclose()
        assert listener.connections == 0
        (row,) = delivery_rows(strict, kind="event")
        (attempt,) = attempt_rows(strict, row.id)
        assert (row.status, row.last_outcome, attempt.outcome) == ("failed", "blocked", "blocked")
        assert "gettoken failed: refused to connect to 127.0.0.1" in row.last_error
        assert ALLOW_SETTING in row.last_error and "wc-app-secret" not in row.last_error
        assert tested.outcome == "blocked" and ALLOW_SETTING in tested.message
    finally:
        permissive.close()
        strict.close()


@pytest.mark.asyncio
async def test_a_percent_encoded_host_saved_earlier_is_blocked_without_a_dns_lookup(
    store_url: str,
) -> None:
    """Issue 9: `127%2E0%2E0%2E1` is refused when saved now; one stored before is refused at
    delivery as no host name at all, instead of a DNS lookup and a retry on every attempt."""
    resolver = FakeResolver()
    permissive, strict = _containers(store_url, resolver)
    try:
        async with listening() as listener:
            project_id, version_id = make_project(permissive)
            url = f"http://127%2E0%2E0%2E1:{listener.port}/hook"  # refused when saved now
            add_config_saved_earlier(
                permissive, project_id, [{"url": url, "retry_count": 3, "retry_interval": 0}]
            )
            emit_stopped_tasks(permissive, project_id, version_id, 1)
            async with guarded_worker(strict, resolver):
                await eventually(lambda: all_final(strict))
        assert listener.connections == 0 and resolver.asked == []
        (row,) = delivery_rows(strict, kind="event")
        assert (row.status, row.last_outcome, row.attempts) == ("failed", "blocked", 1)
        assert "percent-encoded" in row.last_error
    finally:
        permissive.close()
        strict.close()

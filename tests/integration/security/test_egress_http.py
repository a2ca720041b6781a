"""The SSRF guard end to end against local servers that count TCP connections."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from herald.security.egress import EgressDenied, EgressPolicy
from herald.security.guarded_http import (
    EgressDeniedOSError,
    GuardedResolver,
    create_guarded_session,
    describe_denial,
    guarded_request,
)

pytestmark = pytest.mark.asyncio

ALLOW_LOOPBACK = EgressPolicy(allow=["127.0.0.1/32"])
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class CountingServer:
    """A raw TCP server on 127.0.0.1 that counts connections and sends one canned response."""

    def __init__(self, response: bytes = OK_RESPONSE) -> None:
        self.response = response
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class FakeResolver(AbstractResolver):
    """Resolves names from a fixed table, without DNS, and records the lookups."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(f"fake resolver has no entry for {host}")
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        pass


async def test_name_resolving_to_loopback_is_refused_without_connecting() -> None:
    resolver = FakeResolver({"evil.test": ["127.0.0.1"]})
    policy = EgressPolicy()
    async with (
        CountingServer() as server,
        create_guarded_session(policy, resolver=resolver) as session,
    ):
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await guarded_request(session, policy, "GET", f"http://evil.test:{server.port}/")
        assert server.connections == 0
    assert resolver.lookups == ["evil.test"]
    assert isinstance(info.value, OSError)
    assert "refused to connect to evil.test at 127.0.0.1 (loopback address)" in str(info.value)
    assert describe_denial(info.value) == (
        "refused to connect to evil.test at 127.0.0.1 (loopback address); "
        "allow it with HERALD_EGRESS_ALLOW if intended"
    )


async def test_ip_literal_is_refused_before_any_connection() -> None:
    policy = EgressPolicy()
    async with CountingServer() as server, create_guarded_session(policy) as session:
        for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "localhost"):
            with pytest.raises(EgressDenied):
                await guarded_request(session, policy, "GET", f"http://{host}:{server.port}/")
        assert server.connections == 0


async def test_allowed_loopback_request_succeeds() -> None:
    async with CountingServer() as server, create_guarded_session(ALLOW_LOOPBACK) as session:
        async with await guarded_request(session, ALLOW_LOOPBACK, "GET", server.url) as resp:
            assert resp.status == 200
            assert await resp.text() == "ok"
        assert server.connections == 1


async def test_allowed_name_connects_to_the_vetted_address() -> None:
    resolver = FakeResolver({"pinned.test": ["127.0.0.1"]})
    async with (
        CountingServer() as server,
        create_guarded_session(ALLOW_LOOPBACK, resolver=resolver) as session,
    ):
        url = f"http://pinned.test:{server.port}/"
        async with await guarded_request(session, ALLOW_LOOPBACK, "GET", url) as resp:
            assert resp.status == 200
        assert server.connections == 1
    assert resolver.lookups == ["pinned.test"]


async def test_redirect_to_another_loopback_port_is_not_followed() -> None:
    async with CountingServer() as target:
        redirect = (
            f"HTTP/1.1 302 Found\r\nLocation: {target.url}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode()
        async with (
            CountingServer(redirect) as origin,
            create_guarded_session(ALLOW_LOOPBACK) as session,
        ):
            async with await guarded_request(session, ALLOW_LOOPBACK, "GET", origin.url) as resp:
                assert resp.status == 302
            assert origin.connections == 1
            assert target.connections == 0


async def test_redirects_and_proxies_cannot_be_requested() -> None:
    async with create_guarded_session(ALLOW_LOOPBACK) as session:
        with pytest.raises(ValueError, match="redirects"):
            await guarded_request(
                session, ALLOW_LOOPBACK, "GET", "http://127.0.0.1:9/", allow_redirects=True
            )
        with pytest.raises(ValueError, match="prox"):
            await guarded_request(
                session, ALLOW_LOOPBACK, "GET", "http://127.0.0.1:9/", proxy="http://127.0.0.1:9"
            )


async def test_environment_proxy_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    async with CountingServer() as proxy, CountingServer() as server:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with (
            create_guarded_session(ALLOW_LOOPBACK) as session,
            await guarded_request(session, ALLOW_LOOPBACK, "GET", server.url) as resp,
        ):
            assert resp.status == 200
        assert (proxy.connections, server.connections) == (0, 1)


async def test_one_denied_address_fails_the_whole_name() -> None:
    inner = FakeResolver({"mixed.test": ["93.184.216.34", "10.0.0.1"]})
    resolver = GuardedResolver(EgressPolicy(), inner)
    with pytest.raises(EgressDeniedOSError) as info:
        await resolver.resolve("mixed.test", 443)
    assert info.value.denial.address == "10.0.0.1"
    assert isinstance(info.value.__cause__, EgressDenied)


async def test_public_addresses_pass_through_unchanged() -> None:
    inner = FakeResolver({"public.test": ["93.184.216.34", "2606:4700:4700::1111"]})
    results = await GuardedResolver(EgressPolicy(), inner).resolve("public.test", 443)
    assert [r["host"] for r in results] == ["93.184.216.34", "2606:4700:4700::1111"]


async def test_default_inner_resolver_vets_localhost() -> None:
    resolver = GuardedResolver(EgressPolicy())
    with pytest.raises(EgressDeniedOSError, match="loopback"):
        await resolver.resolve("localhost", 80)
    await resolver.close()

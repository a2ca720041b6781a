"""The egress guard for SMTP and Apprise targets: a name is resolved once, every address is
vetted, and the socket connects to a vetted address (never a second lookup)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from herald.channels.apprise_url import AppriseSender
from herald.channels.channel_config import parse_channel_config
from herald.security.egress import EgressDenied, EgressPolicy
from herald.security.guarded_socket import check_literal_host, connect_vetted, vetted_addresses
from tests.unit.channels.support import NOW, view

NAMES = {
    "smtp.internal.test": ["10.1.2.3"],
    "mixed.test": ["127.0.0.1", "169.254.169.254"],
    "loop.test": ["127.0.0.1"],
}


class Resolver(AbstractResolver):
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
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in NAMES[host]
        ]

    async def close(self) -> None:
        return None


LOOPBACK = EgressPolicy(["127.0.0.1/32"])


@pytest.mark.asyncio
async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(EgressDenied, match="private"):
        await vetted_addresses("smtp://smtp.internal.test:587", LOOPBACK, ("smtp",), Resolver())


@pytest.mark.asyncio
async def test_one_denied_address_among_allowed_ones_refuses_the_name() -> None:
    with pytest.raises(EgressDenied, match="metadata"):
        await vetted_addresses("smtps://mixed.test:465", LOOPBACK, ("smtps",), Resolver())


@pytest.mark.asyncio
async def test_the_vetted_address_is_the_one_connected_to() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    resolver = Resolver()
    try:
        host, got_port, addresses = await vetted_addresses(
            f"smtp://loop.test:{port}", LOOPBACK, ("smtp",), resolver
        )
        sock = await connect_vetted(addresses, got_port, 5.0)
        assert sock.getpeername() == ("127.0.0.1", port)
        sock.close()
    finally:
        server.close()
        await server.wait_closed()
    assert (host, addresses, resolver.asked) == ("loop.test", ["127.0.0.1"], ["loop.test"])


@pytest.mark.asyncio
async def test_other_schemes_are_refused() -> None:
    with pytest.raises(EgressDenied, match="use smtp or smtps"):
        await vetted_addresses("http://loop.test:80", LOOPBACK, ("smtp", "smtps"), Resolver())


def test_apprise_hosts_written_as_addresses_are_vetted_and_tokens_are_not() -> None:
    with pytest.raises(EgressDenied):
        check_literal_host("json://169.254.169.254/latest", LOOPBACK)
    with pytest.raises(EgressDenied):
        check_literal_host("json://localhost:8080/", EgressPolicy())
    check_literal_host("tgram://123456789:AAE-token/-100123", EgressPolicy())  # a token


@pytest.mark.asyncio
async def test_apprise_refuses_a_name_resolving_to_a_denied_address() -> None:
    settings = parse_channel_config("apprise", {"url": "json://smtp.internal.test/hook"})
    sender = AppriseSender()
    request = sender.render(view("task_failed"), settings, now=NOW)
    answer = await sender.transmit(request, settings, egress=LOOPBACK, resolver=Resolver())
    assert answer.blocked and "private" in (answer.error or "")

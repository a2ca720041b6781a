"""The egress guard for protocols other than HTTP (SMTP): vet a target, then connect a socket
to an address that was vetted, never to whatever the name resolves to a moment later.

`check_url` judges the URL (scheme, host form, IP literals, localhost), then the name is
resolved once through `GuardedResolver` (every address vetted, the same rule as HTTP) and the
socket is connected to one of those addresses. The caller hands the connected socket to its
protocol library together with the original host name, which TLS verifies the certificate
against: the address is pinned, the name still authenticates the server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver

from herald.security.egress import EgressDenied, EgressPolicy, check_url
from herald.security.guarded_http import GuardedResolver, describe_denial


async def vetted_addresses(
    url: str, policy: EgressPolicy, schemes: Iterable[str], resolver: AbstractResolver | None
) -> tuple[str, int, list[str]]:
    """(host, port, addresses) for `url`, every address allowed by `policy`.

    Raises `EgressDenied` when the URL or any address it resolves to is refused, and OSError
    when the name does not resolve.
    """
    target = check_url(url, policy, schemes=frozenset(schemes))
    host = target.url.raw_host or target.host
    if target.ip is not None:
        return host, target.port, [str(target.ip)]
    if host.rstrip(".").lower() == "localhost" or host.endswith(".localhost"):
        return host, target.port, ["127.0.0.1"]  # check_url judged it as 127.0.0.1
    guarded = GuardedResolver(policy, resolver)
    try:
        results = await guarded.resolve(host, target.port, socket.AF_UNSPEC)
    except OSError as exc:
        denial = describe_denial(exc)
        if denial:
            raise EgressDenied(denial) from None
        raise
    finally:
        await guarded.close()
    return host, target.port, list(dict.fromkeys(r["host"] for r in results))


async def connect_vetted(addresses: list[str], port: int, seconds: float) -> socket.socket:
    """A non-blocking TCP socket connected to the first of `addresses` that answers within
    `seconds` in all; the last OSError (or TimeoutError) when none does."""
    loop = asyncio.get_running_loop()
    error: OSError = OSError("no address to connect to")
    async with asyncio.timeout(seconds):
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (address, port))
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:  # cancelled or timed out: do not leak the socket
                sock.close()
                raise
            return sock
    raise error


def check_literal_host(url: str, policy: EgressPolicy) -> None:
    """For URLs of any scheme (Apprise's): refuse a host written as an IP address or
    `localhost` that `policy` denies. Other hosts may be a service's token rather than a
    name (`tgram://<bot token>/…`) and are vetted when the notification is sent."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return
    if not host:
        return
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    policy.check_ip(address)

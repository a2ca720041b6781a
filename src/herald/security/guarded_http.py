"""The aiohttp side of the SSRF guard (see ``herald.security.egress`` for the policy): a resolver that
vets every address a name resolves to, a session that ignores environment proxies, and a request
helper that vets the URL and never follows redirects.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from herald.security.egress import EgressDenied, EgressPolicy, check_url


class EgressDeniedOSError(OSError):
    """``EgressDenied`` in the ``OSError`` shape aiohttp expects from resolvers.

    aiohttp 3.14 wraps any ``OSError`` raised by the resolver in
    ``ClientConnectorDNSError`` (message ``Cannot connect to host h:p ssl:…
    [<strerror>]``), chaining this error as ``__cause__``; this error in turn
    chains the ``EgressDenied`` (also available as ``.denial``). Use
    ``describe_denial`` to recover it.
    """

    def __init__(self, denial: EgressDenied) -> None:
        super().__init__(errno.EACCES, str(denial))
        self.denial = denial


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses names resolving to any denied address.

    Resolves with ``resolver`` (default: aiohttp's ``ThreadedResolver``,
    created lazily inside the running loop) and raises ``EgressDeniedOSError``
    if any returned address is denied; see ``EgressDeniedOSError`` for how
    aiohttp surfaces it.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: AbstractResolver | None = None,
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self._policy = policy
        self._inner = resolver
        self._owns_inner = resolver is None
        # Host names resolved without vetting: only the operator's own egress proxy.
        self._exempt = exempt

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and vet every address before returning them all."""
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        if host.rstrip(".").lower() in self._exempt:
            return results
        for result in results:
            try:
                self._policy.check_ip(result["host"], hostname=host)
            except EgressDenied as denial:
                raise EgressDeniedOSError(denial) from denial
        return results

    async def close(self) -> None:
        """Close the inner resolver if this object created it."""
        if self._owns_inner and self._inner is not None:
            await self._inner.close()


def create_guarded_session(
    policy: EgressPolicy,
    *,
    limit: int = 100,
    limit_per_host: int = 0,
    resolver: AbstractResolver | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    headers: dict[str, str] | None = None,
    exempt_hosts: frozenset[str] = frozenset(),
) -> aiohttp.ClientSession:
    """Build a session whose connector resolves through ``GuardedResolver``.

    ``exempt_hosts``: names resolved without vetting (the operator's egress proxy; every
    request then goes through it, and the client vets each final target itself).

    Environment proxies are ignored (``trust_env=False``). The session does
    not vet IP-literal URLs or stop redirects by itself: send every request
    through ``guarded_request`` (or call ``check_url`` and pass
    ``allow_redirects=False`` yourself). Must be called inside a running loop.
    """
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, resolver, exempt_hosts),
        limit=limit,
        limit_per_host=limit_per_host,
    )
    if timeout is None:
        return aiohttp.ClientSession(connector=connector, trust_env=False, headers=headers)
    return aiohttp.ClientSession(
        connector=connector, trust_env=False, timeout=timeout, headers=headers
    )


async def guarded_request(
    session: aiohttp.ClientSession,
    policy: EgressPolicy,
    method: str,
    url: str | URL,
    **kwargs: Any,
) -> aiohttp.ClientResponse:
    """``check_url`` then send without following redirects.

    Raises ``EgressDenied`` before any connection for refused URLs, and
    ``ValueError`` if the caller asks for redirects or a proxy (both would
    reach addresses this guard never vetted). Redirect responses (3xx) are
    returned as-is. The caller must release the response (``async with``).
    """
    if kwargs.pop("allow_redirects", False):
        raise ValueError("guarded_request never follows redirects")
    if kwargs.get("proxy") is not None:
        raise ValueError("guarded_request does not support proxies")
    target = check_url(url, policy)
    return await session.request(method, target.url, allow_redirects=False, **kwargs)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (current.__cause__, current.__context__, getattr(current, "os_error", None))
        pending.extend(e for e in linked if isinstance(e, BaseException))
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def describe_denial(exc: BaseException) -> str | None:
    """Return the ``EgressDenied`` message inside ``exc``'s chain, if any.

    Follows ``__cause__``, ``__context__``, aiohttp's ``os_error`` and
    exception groups, so it works on ``ClientConnectorDNSError`` from a
    guarded session as well as on a bare ``EgressDenied``.
    """
    for current in _exception_chain(exc):
        if isinstance(current, EgressDenied):
            return str(current)
        if isinstance(current, EgressDeniedOSError):
            return str(current.denial)
    return None

"""The delivery path's HTTP client: one shared aiohttp session behind the egress guard.

Every request's URL is checked against the SSRF policy before it is made (IP literals never
reach the resolver) and again at connect time by the guarded resolver (names), redirects are never
followed, environment proxies are ignored, and response bodies are read only up to a cap.

Through a proxy (`security.egress_proxy`: the operator's or a channel's) the proxy resolves
the target, so the target's name is resolved and vetted here first and a forbidden address is
refused before anything connects; a channel's proxy is vetted like a target. TLS is verified
with the system's CAs plus the configured bundles.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver

from herald.channels.base import USER_AGENT
from herald.channels.config_base import ChannelConfig
from herald.channels.egress_fields import proxy_of
from herald.security.egress import EgressDenied, EgressPolicy, ParsedTarget, check_url
from herald.security.egress_proxy import ChannelEgress, EgressRoutes, Hop
from herald.security.guarded_http import GuardedResolver, create_guarded_session, describe_denial

RESPONSE_CAP = 65_536
VETTED_CACHE = 4096


@dataclass(frozen=True)
class HttpResult:
    status: int | None  # None: no HTTP answer (see error)
    headers: Mapping[str, str]
    body: bytes
    latency_ms: float
    error: str | None = None
    blocked: bool = False  # refused by the egress guard: never retried


class HttpClient:
    def __init__(
        self,
        policy: EgressPolicy,
        *,
        limit: int = 200,
        resolver: AbstractResolver | None = None,
        routes: EgressRoutes | None = None,
    ) -> None:
        self.policy = policy
        self.limit = limit
        self.resolver = resolver  # the DNS seam (tests); always wrapped by the egress guard
        self.routes = routes or EgressRoutes()
        self._session: aiohttp.ClientSession | None = None
        self._vetted: dict[str, ParsedTarget] = {}
        # Vets the final target's name before a proxy is asked to reach it.
        self._target_check = GuardedResolver(policy, resolver)

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            proxy_host = self.routes.proxy_host
            self._session = create_guarded_session(
                self.policy,
                limit=self.limit,
                resolver=self.resolver,
                headers={"User-Agent": USER_AGENT},
                exempt_hosts=frozenset({proxy_host} if proxy_host else ()),
            )
        return self._session

    def _vet(self, url: str) -> ParsedTarget:
        """`check_url`, remembered per URL: the policy is fixed for the client's life, and names
        are still vetted at every connect by the guarded resolver."""
        target = self._vetted.get(url)
        if target is None:
            target = check_url(url, self.policy)
            if len(self._vetted) >= VETTED_CACHE:
                self._vetted.clear()
            self._vetted[url] = target
        return target

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._target_check.close()

    async def _vet_hop(self, hop: Hop, target: ParsedTarget) -> None:
        """Before a proxy is asked to reach `target`: vet a channel's proxy like a target, and
        resolve and vet the target's name (an IP literal was vetted by `check_url`)."""
        if hop.proxy is None:
            return
        if hop.vet_proxy:
            check_url(hop.proxy, self.policy)
        if target.ip is None:
            await self._target_check.resolve(target.host, target.port)

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        seconds: float,
        channel: ChannelEgress | None = None,
    ) -> HttpResult:
        """Send one request (through the channel's or the operator's proxy, if any) and read
        the answer up to the cap; never raises: refusals and failures are results."""
        started = time.perf_counter()
        try:
            session = await self.session()
            target = self._vet(url)
            hop = self.routes.hop(channel)
            async with asyncio.timeout(seconds):
                await self._vet_hop(hop, target)
                response = await session.request(
                    method,
                    target.url,
                    headers=_with_proxy_auth(headers, hop, target),
                    data=body,
                    timeout=aiohttp.ClientTimeout(total=seconds),
                    allow_redirects=False,
                    proxy=hop.proxy,
                    proxy_headers={"Proxy-Authorization": hop.auth} if hop.auth else None,
                    ssl=hop.tls,
                )
                async with response:
                    data = await response.content.read(RESPONSE_CAP)
                    return HttpResult(response.status, dict(response.headers), data, _ms(started))
        except EgressDenied as exc:
            return HttpResult(None, {}, b"", _ms(started), str(exc), blocked=True)
        except TimeoutError:
            return HttpResult(None, {}, b"", _ms(started), f"timed out after {seconds:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            denial = describe_denial(exc)
            if denial:
                return HttpResult(None, {}, b"", _ms(started), denial, blocked=True)
            return HttpResult(None, {}, b"", _ms(started), _transport_error(exc))


def _with_proxy_auth(headers: Mapping[str, str], hop: Hop, target: ParsedTarget) -> dict[str, str]:
    """The request's headers; an http request through a proxy carries the proxy's
    credentials itself (aiohttp sends `proxy_headers` only with CONNECT, for https)."""
    sent = dict(headers)
    if hop.proxy is not None and hop.auth and target.scheme == "http":
        sent["Proxy-Authorization"] = hop.auth
    return sent


def channel_egress(config: ChannelConfig) -> ChannelEgress | None:
    """The proxy and CA certificates a channel's settings ask for (None: the operator's)."""
    proxy_url, ca_pem = proxy_of(config)
    return ChannelEgress(proxy_url, ca_pem) if proxy_url or ca_pem else None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _transport_error(exc: BaseException) -> str:
    # The proxy URL aiohttp knows has no credentials, but name nothing of it anyway.
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"the proxy refused: HTTP {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"cannot connect to the proxy: {exc.os_error.strerror or 'connection failed'}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "the TLS certificate could not be verified (see HERALD_EGRESS_CA_BUNDLE)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed: {exc.os_error.strerror or type(exc.os_error).__name__}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection error: {exc.strerror or 'reset by peer'}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the response body was cut off"
    if isinstance(exc, aiohttp.InvalidURL):
        return "the URL is not valid"
    # Other exception texts may quote the URL, which can hold credentials: name the type only.
    return type(exc).__name__

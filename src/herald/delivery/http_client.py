"""The delivery path's HTTP client: one shared aiohttp session behind the egress guard.

Every request's URL is checked against the SSRF policy before it is made (IP literals never
reach the resolver) and again at connect time by the guarded resolver (names), redirects are never
followed, environment proxies are ignored, and response bodies are read only up to a cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from herald.channels.base import USER_AGENT
from herald.security.egress import EgressDenied, EgressPolicy, check_url
from herald.security.guarded_http import create_guarded_session, describe_denial

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
        self, policy: EgressPolicy, *, limit: int = 200, resolver: AbstractResolver | None = None
    ) -> None:
        self.policy = policy
        self.limit = limit
        self.resolver = resolver  # the DNS seam (tests); always wrapped by the egress guard
        self._session: aiohttp.ClientSession | None = None
        self._vetted: dict[str, URL] = {}

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = create_guarded_session(
                self.policy,
                limit=self.limit,
                resolver=self.resolver,
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    def _vet(self, url: str) -> URL:
        """`check_url`, remembered per URL: the policy is fixed for the client's life, and names
        are still vetted at every connect by the guarded resolver."""
        target = self._vetted.get(url)
        if target is None:
            target = check_url(url, self.policy).url
            if len(self._vetted) >= VETTED_CACHE:
                self._vetted.clear()
            self._vetted[url] = target
        return target

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, seconds: float
    ) -> HttpResult:
        started = time.perf_counter()
        try:
            session = await self.session()
            target = self._vet(url)
            async with asyncio.timeout(seconds):
                response = await session.request(
                    method,
                    target,
                    headers=dict(headers),
                    data=body,
                    timeout=aiohttp.ClientTimeout(total=seconds),
                    allow_redirects=False,
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


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _transport_error(exc: BaseException) -> str:
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

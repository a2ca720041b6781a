"""How a request leaves Herald: directly or through an HTTP(S) proxy, and which CA
certificates verify TLS. The operator's proxy and CA bundle (`HERALD_EGRESS_PROXY`,
`HERALD_EGRESS_CA_BUNDLE`) apply to every request; a channel may name its own proxy and add
certificates (`channels.egress_fields`).

The SSRF guard still judges the final target when a proxy is used: the proxy resolves the
target's name itself, so the client resolves and vets it first (`HttpClient`) and refuses a
forbidden address before any connection. The operator's proxy is trusted to be anywhere
(127.0.0.1, a private address): the operator put it there. A channel's proxy is not: it is
vetted like a target, so a private one needs `HERALD_EGRESS_ALLOW`. Proxy credentials are
taken out of the URL and sent as `Proxy-Authorization` only; the URL aiohttp sees, and so any
error text, carries none.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

TLS_CACHE = 64  # channels' own CA bundles kept as contexts


@dataclass(frozen=True)
class Hop:
    """Where one request goes first: `proxy` (no credentials in it) with `auth` (the
    Proxy-Authorization value), or directly (`proxy` None); `tls` verifies the target (and an
    https proxy), True for the system's trust; `vet_proxy`: the proxy is a channel's, vetted
    by the egress guard."""

    proxy: URL | None
    auth: str | None = field(repr=False)
    tls: ssl.SSLContext | bool
    vet_proxy: bool = False


@dataclass(frozen=True)
class ChannelEgress:
    """A channel's own proxy URL (credentials included) and extra CA certificates (PEM)."""

    proxy_url: str | None = None
    ca_pem: str | None = None


def split_credentials(url: str) -> tuple[URL, str | None]:
    """The proxy URL without its userinfo, and the userinfo as a `Proxy-Authorization: Basic`
    value (None without)."""
    parsed = URL(url)
    auth = None
    if parsed.user is not None:
        auth = aiohttp.encode_basic_auth(parsed.user, parsed.password or "")
    return parsed.with_user(None).with_password(None), auth


class EgressRoutes:
    """The operator's route and, per channel, the route its settings ask for."""

    def __init__(self, proxy: str | None = None, ca_bundle: str | None = None) -> None:
        self._proxy = split_credentials(proxy) if proxy else None
        self._ca_bundle = ca_bundle
        self._base_tls: ssl.SSLContext | bool = self._context(None) if ca_bundle else True
        self._tls: dict[str, ssl.SSLContext] = {}

    @property
    def proxy_host(self) -> str | None:
        """The operator's proxy host: the guarded resolver lets it resolve anywhere."""
        return self._proxy[0].raw_host.lower() if self._proxy and self._proxy[0].raw_host else None

    def hop(self, channel: ChannelEgress | None = None) -> Hop:
        channel = channel or ChannelEgress()
        tls = self._tls_for(channel.ca_pem)
        if channel.proxy_url:
            proxy, auth = split_credentials(channel.proxy_url)
            return Hop(proxy, auth, tls, vet_proxy=True)
        if self._proxy is not None:
            return Hop(self._proxy[0], self._proxy[1], tls)
        return Hop(None, None, tls)

    def _tls_for(self, pem: str | None) -> ssl.SSLContext | bool:
        if not pem:
            return self._base_tls
        context = self._tls.get(pem)
        if context is None:
            if len(self._tls) >= TLS_CACHE:
                self._tls.clear()
            context = self._tls[pem] = self._context(pem)
        return context

    def _context(self, pem: str | None) -> ssl.SSLContext:
        """The system's trust plus the operator's bundle plus `pem` (validated when saved)."""
        context = ssl.create_default_context()
        if self._ca_bundle:
            context.load_verify_locations(cafile=self._ca_bundle)
        if pem:
            context.load_verify_locations(cadata=pem)
        return context

"""Egress through an HTTP(S) proxy and TLS with a private CA, on the real client: requests go
through a local CONNECT proxy (absolute-form for http, CONNECT for https), the SSRF guard still
judges the final target (a forbidden one is refused before the proxy hears of it), a channel's
own proxy is vetted like a target, the operator's may sit on loopback, and proxy credentials
appear nowhere but in the Proxy-Authorization the proxy checks."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from herald.delivery.http_client import HttpClient
from herald.fakeplatforms.connect_proxy import running_connect_proxy
from herald.security.egress import EgressPolicy
from herald.security.egress_proxy import ChannelEgress, EgressRoutes

LOOPBACK_ONLY = EgressPolicy(["127.0.0.1/32"])
NOTHING_INTERNAL = EgressPolicy([])
SECRET = "pr0xy-s3cret-pass"
NAMES = {
    "internal.example": "10.0.0.5",
    "public.example": "93.184.216.34",  # never dialled: only the proxy is asked to
    "proxy.internal": "127.0.0.1",
}


class FakeResolver(AbstractResolver):
    """The DNS seam: the test names only, no real DNS."""

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
                host=NAMES[host],
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


@dataclass
class Received:
    paths: list[str]


@contextlib.asynccontextmanager
async def receiver(tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[str, Received]]:
    """A webhook receiver on 127.0.0.1 (https with `tls`) answering 200 "ok"."""
    seen = Received([])

    async def hook(request: web.Request) -> web.Response:
        seen.paths.append(request.path_qs)
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps it private
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class PrivateCa:
    ca_pem: str
    server: ssl.SSLContext


def private_ca(tmp_path: Path) -> PrivateCa:
    """A self-signed CA and a server certificate for 127.0.0.1 it signed."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Herald test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return PrivateCa(ca.public_bytes(serialization.Encoding.PEM).decode(), server)


async def post(client: HttpClient, url: str, channel: ChannelEgress | None = None) -> object:
    try:
        return await client.request("POST", url, {}, b"{}", 5.0, channel)
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_http_and_https_targets_go_through_the_proxy_with_its_credentials(
    tmp_path: Path,
) -> None:
    ca = private_ca(tmp_path)
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca.ca_pem)
    async with (
        running_connect_proxy(("herald", SECRET)) as proxy,
        receiver() as (plain, plain_seen),
        receiver(ca.server) as (secure, secure_seen),
    ):
        routes = EgressRoutes(proxy.url_with_credentials(), str(bundle))
        first = await post(HttpClient(LOOPBACK_ONLY, routes=routes), f"{plain}/hook/a?x=1")
        second = await post(HttpClient(LOOPBACK_ONLY, routes=routes), f"{secure}/hook/b")
    assert getattr(first, "status", None) == 200, first
    assert getattr(second, "status", None) == 200, second
    assert plain_seen.paths == ["/hook/a?x=1"] and secure_seen.paths == ["/hook/b"]
    assert [(r.method, r.target, r.authorized) for r in proxy.requests] == [
        ("POST", f"{plain}/hook/a?x=1", True),
        ("CONNECT", secure.removeprefix("https://"), True),
    ]


@pytest.mark.asyncio
async def test_an_https_proxy_is_verified_with_the_ca_bundle_too(tmp_path: Path) -> None:
    """TLS to the proxy, and TLS to the target inside its tunnel, both by the private CA."""
    ca = private_ca(tmp_path)
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca.ca_pem)
    async with (
        running_connect_proxy(("herald", SECRET), tls=ca.server) as proxy,
        receiver(ca.server) as (secure, seen),
    ):
        assert proxy.url.startswith("https://")
        trusted = EgressRoutes(proxy.url_with_credentials(), str(bundle))
        result = await post(HttpClient(LOOPBACK_ONLY, routes=trusted), f"{secure}/hook")
        untrusted = EgressRoutes(proxy.url_with_credentials())
        refused = await post(HttpClient(LOOPBACK_ONLY, routes=untrusted), f"{secure}/other")
    assert getattr(result, "status", None) == 200, result
    assert seen.paths == ["/hook"]
    assert [(r.method, r.authorized) for r in proxy.requests] == [("CONNECT", True)]
    assert getattr(refused, "status", 0) is None and SECRET not in repr(refused)


@pytest.mark.asyncio
async def test_a_forbidden_final_target_is_refused_before_the_proxy_is_asked() -> None:
    resolver = FakeResolver()
    async with running_connect_proxy() as proxy:
        routes = EgressRoutes(proxy.url)
        literal = await post(
            HttpClient(LOOPBACK_ONLY, routes=routes, resolver=resolver), "http://10.1.2.3/hook"
        )
        named = await post(
            HttpClient(LOOPBACK_ONLY, routes=routes, resolver=resolver),
            "https://internal.example/hook",
        )
    for result in (literal, named):
        assert getattr(result, "blocked", False), result
        assert "private address" in str(getattr(result, "error", ""))
    assert "internal.example" in resolver.asked
    assert proxy.requests == []  # the proxy never heard of either


@pytest.mark.asyncio
async def test_the_operators_proxy_may_be_on_loopback_a_channels_proxy_may_not() -> None:
    """Nothing internal is allowed: the operator's proxy on a loopback name is still used
    (the proxy answers 502: it cannot reach the public name in a test); a channel's proxy at
    a loopback address is refused like a target."""
    resolver = FakeResolver()
    async with running_connect_proxy() as proxy:
        operator = EgressRoutes(f"http://proxy.internal:{proxy.port}")
        via_operator = await post(
            HttpClient(NOTHING_INTERNAL, routes=operator, resolver=resolver),
            "http://public.example/hook",
        )
        asked_before = len(proxy.requests)
        channel = ChannelEgress(proxy_url=proxy.url)
        via_channel = await post(
            HttpClient(NOTHING_INTERNAL, resolver=resolver), "http://public.example/hook", channel
        )
    assert getattr(via_operator, "status", None) == 502, via_operator
    assert asked_before == 1 and proxy.requests[0].target == "http://public.example/hook"
    assert getattr(via_channel, "blocked", False) and "loopback" in str(
        getattr(via_channel, "error", "")
    )
    assert len(proxy.requests) == 1


@pytest.mark.asyncio
async def test_wrong_proxy_credentials_are_reported_without_them() -> None:
    async with running_connect_proxy(("herald", SECRET)) as proxy, receiver() as (plain, seen):
        wrong = f"http://herald:not-{SECRET}@127.0.0.1:{proxy.port}"
        result = await post(
            HttpClient(LOOPBACK_ONLY), f"{plain}/hook", ChannelEgress(proxy_url=wrong)
        )
        https = await post(
            HttpClient(LOOPBACK_ONLY),
            "https://127.0.0.1:9/hook",
            ChannelEgress(proxy_url=wrong),
        )
    assert getattr(result, "status", None) == 407 and seen.paths == []
    assert "the proxy refused: HTTP 407" in str(getattr(https, "error", ""))
    assert SECRET not in repr(result) + repr(https)
    assert [r.authorized for r in proxy.requests] == [False, False]


@pytest.mark.asyncio
async def test_tls_to_a_private_ca_needs_its_certificate(tmp_path: Path) -> None:
    ca = private_ca(tmp_path)
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca.ca_pem)
    async with receiver(ca.server) as (secure, seen):
        untrusted = await post(HttpClient(LOOPBACK_ONLY), f"{secure}/a")
        by_bundle = await post(
            HttpClient(LOOPBACK_ONLY, routes=EgressRoutes(ca_bundle=str(bundle))), f"{secure}/b"
        )
        by_channel = await post(
            HttpClient(LOOPBACK_ONLY), f"{secure}/c", ChannelEgress(ca_pem=ca.ca_pem)
        )
    assert getattr(untrusted, "status", 0) is None
    assert "certificate could not be verified" in str(getattr(untrusted, "error", ""))
    assert getattr(by_bundle, "status", None) == 200 and getattr(by_channel, "status", None) == 200
    assert seen.paths == ["/b", "/c"]

"""A small real forward proxy on 127.0.0.1 for tests and demos: HTTP CONNECT tunnels (for
https targets) and absolute-form requests (`GET http://host:port/path`, for http targets),
with an optional `Proxy-Authorization: Basic` check answered by 407.

Every request the proxy is asked is recorded (`ProxyRequest`: method, target, whether the
credentials matched), never the credentials themselves. It forwards one request per client
connection for absolute-form (the upstream is asked to close), and any bytes for a tunnel.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEAD = 65_536
_REFUSED = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class ProxyRequest:
    method: str  # CONNECT, or the absolute-form request's method
    target: str  # host:port for CONNECT, the absolute URL otherwise
    authorized: bool  # the credentials matched (True when none are required)


@dataclass
class ConnectProxy:
    """Start with `running_connect_proxy()`; `url` is where clients point, `requests` what
    was asked. `credentials` (user, password) makes the proxy require them; `tls` makes it an
    https proxy (clients speak TLS to the proxy, and TLS in the tunnel to the target)."""

    credentials: tuple[str, str] | None = None
    requests: list[ProxyRequest] = field(default_factory=list)
    port: int = 0
    tls: ssl.SSLContext | None = None
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url_with_credentials(self) -> str:
        assert self.credentials is not None
        user, password = self.credentials
        return self.url.replace("://", f"://{user}:{password}@", 1)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return headers.get("proxy-authorization", "") == f"Basic {expected}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" "), "", ""][:3]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:]) if k
        }
        authorized = self._authorized(headers)
        self.requests.append(ProxyRequest(method, target, authorized))
        try:
            if not authorized:
                writer.write(_REFUSED + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            elif method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, lines[1:], reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
            writer.close()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except (OSError, ValueError):
            writer.write(_BAD_GATEWAY)
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        header_lines: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            writer.write(_BAD_GATEWAY)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        except OSError:
            writer.write(_BAD_GATEWAY)
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        kept = [
            line
            for line in header_lines
            if line and line.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP
        ]
        head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""])
        up_writer.write(head.encode("latin-1"))
        await _pipe_both(reader, writer, up_reader, up_writer)


_HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until either side is done (the upstream closes after its answer, or
    the client hangs up the tunnel)."""
    copies = [
        asyncio.create_task(_copy(reader, up_writer)),
        asyncio.create_task(_copy(up_reader, writer)),
    ]
    try:
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in copies:
            task.cancel()
        await asyncio.gather(*copies, return_exceptions=True)
        up_writer.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(65_536):
            sink.write(data)
            await sink.drain()


@contextlib.asynccontextmanager
async def running_connect_proxy(
    credentials: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None
) -> AsyncIterator[ConnectProxy]:
    """A proxy on a free port of 127.0.0.1 for the block (https with `tls`)."""
    proxy = ConnectProxy(credentials, tls=tls)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()

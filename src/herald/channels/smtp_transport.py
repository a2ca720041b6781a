"""Sending one rendered mail over SMTP (aiosmtplib), behind the egress guard.

The server's name is vetted and resolved once (`security.guarded_socket`), the socket is
connected to a vetted address, and TLS (implicit for `smtps://`, STARTTLS for `smtp://`)
checks the certificate against the name from the settings. The answer is a
`TransportAnswer` whose status is the SMTP reply code that decided the attempt and whose body
is JSON: `{"code", "message", "refused": {address: [code, message]}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosmtplib
from aiohttp.abc import AbstractResolver

from herald.channels.capabilities import TransportAnswer
from herald.security.egress import EgressDenied, EgressPolicy
from herald.security.guarded_socket import connect_vetted, vetted_addresses

SCHEMES = ("smtp", "smtps")
NO_STARTTLS = 530  # "Must issue a STARTTLS command first": the reply a server gives for it


@dataclass(frozen=True)
class Envelope:
    """Where and how to send: the server URL (smtp:// or smtps://), credentials, TLS."""

    server: str
    sender: str
    recipients: Sequence[str]
    username: str | None
    password: str | None
    require_starttls: bool
    ca_certificate: str | None


async def send_mail(
    envelope: Envelope,
    message: bytes,
    seconds: float,
    egress: EgressPolicy,
    resolver: AbstractResolver | None,
) -> TransportAnswer:
    """Deliver `message` to every recipient within `seconds`; never raises for network or
    SMTP errors (they become the answer)."""
    started = time.perf_counter()

    def answer(
        status: int | None,
        body: dict[str, object] | None = None,
        *,
        error: str | None = None,
        blocked: bool = False,
    ) -> TransportAnswer:
        data = json.dumps(body, ensure_ascii=False).encode() if body else b""
        ms = (time.perf_counter() - started) * 1000
        return TransportAnswer(status, data, ms, error, blocked)

    try:
        async with asyncio.timeout(seconds):
            return answer(*await _session(envelope, message, seconds, egress, resolver))
    except EgressDenied as exc:
        return answer(None, error=str(exc), blocked=True)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = {r.recipient: [r.code, r.message] for r in exc.recipients}
        first = exc.recipients[0]
        return answer(first.code, _reply(first.code, first.message, refused))
    except aiosmtplib.SMTPResponseException as exc:
        return answer(exc.code, _reply(exc.code, exc.message, {}))
    except TimeoutError:
        return answer(None, error=f"timed out after {seconds:g}s")
    except ssl.SSLCertVerificationError as exc:
        return answer(None, error=f"TLS certificate not trusted: {exc.verify_message}")
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return answer(None, error=f"SMTP connection failed: {type(exc).__name__}: {exc}"[:300])


async def _session(
    envelope: Envelope,
    message: bytes,
    seconds: float,
    egress: EgressPolicy,
    resolver: AbstractResolver | None,
) -> tuple[int, dict[str, object]]:
    host, port, addresses = await vetted_addresses(envelope.server, egress, SCHEMES, resolver)
    implicit = urlsplit(envelope.server).scheme == "smtps"
    context = ssl.create_default_context(cadata=envelope.ca_certificate or None)
    sock = await connect_vetted(addresses, port, seconds)
    client = aiosmtplib.SMTP(
        hostname=host, sock=sock, use_tls=implicit, start_tls=False, tls_context=context
    )
    connected = False
    try:
        await client.connect(timeout=seconds)
        connected = True
        if not implicit:
            await client.ehlo()
            if client.supports_extension("starttls"):
                await client.starttls(tls_context=context)
            elif envelope.require_starttls:
                why = "the server does not offer STARTTLS and require_starttls is on"
                return NO_STARTTLS, _reply(NO_STARTTLS, why, {})
        if envelope.username:
            await client.login(envelope.username, envelope.password or "")
        refused, reply = await client.sendmail(envelope.sender, list(envelope.recipients), message)
        shown = {address: [r.code, r.message] for address, r in refused.items()}
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
        return 250, _reply(250, reply, shown)
    finally:
        # Once connected the transport owns the socket; closing both would let the loop
        # confuse the next socket that gets the same descriptor with this transport.
        if not connected:
            sock.close()
        elif client.is_connected:
            client.close()
            await asyncio.sleep(0)  # let the transport let go of its descriptor


def _reply(code: int, message: str, refused: dict[str, list[object]]) -> dict[str, object]:
    return {"code": code, "message": message[:500], "refused": refused}

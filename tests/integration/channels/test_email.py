"""The email channel against a local SMTP server: plain relays, STARTTLS and implicit TLS
with a certificate made in the test, login, refused recipients and what each answer means."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from herald.channels.base import Outcome, OutcomeKind
from herald.channels.channel_config import parse_channel_config
from herald.channels.mail import EmailConfig, EmailSender
from herald.security.egress import EgressPolicy
from tests.integration.channels.smtp_server import (
    PASSWORD,
    USER,
    Certificate,
    Mailbox,
    make_certificate,
    smtp_server,
)
from tests.unit.channels.support import NOW, view

pytestmark = pytest.mark.asyncio

LOOPBACK = EgressPolicy(["127.0.0.1/32"])
TO = ["ops@example.com", "sre@example.com"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def settings(server: str, **changes: Any) -> EmailConfig:
    raw = {"server": server, "from_address": "herald@example.com", "to": TO, **changes}
    parsed = parse_channel_config("email", raw)
    assert isinstance(parsed, EmailConfig)
    return parsed


async def send(config: EmailConfig, policy: EgressPolicy = LOOPBACK) -> tuple[Outcome, Any]:
    sender = EmailSender()
    request = sender.render(view("task_failed"), config, now=NOW, default_timeout=5.0)
    answer = await sender.transmit(request, config, egress=policy)
    if answer.status is None:
        return Outcome(OutcomeKind.RETRYABLE, None, answer.error or ""), answer
    return sender.judge(answer.status, answer.headers, answer.body), answer


async def test_a_plain_relay_gets_both_parts_and_every_header() -> None:
    box = Mailbox()
    with smtp_server(box) as port:
        outcome, _ = await send(settings(f"smtp://127.0.0.1:{port}", require_starttls=False))
    assert (outcome.kind, outcome.code) == (OutcomeKind.DELIVERED, "250")
    ((sender, recipients, mail),) = box.mails
    assert sender == "herald@example.com" and recipients == TO
    assert mail["Subject"] == "发布通知：发布失败" and mail["To"] == ", ".join(TO)
    assert mail["Message-ID"] == "<dlv-task_failed.herald@example.com>"
    assert mail["Date"] == "Tue, 06 Jan 2026 20:00:00 +0000"
    parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "失败主机: web-07" in parts["text/plain"] and "<th" in parts["text/html"]


async def test_starttls_is_required_unless_turned_off() -> None:
    box = Mailbox()
    with smtp_server(box) as port:
        outcome, _ = await send(settings(f"smtp://127.0.0.1:{port}"))
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "530")
    assert "STARTTLS" in outcome.message and not box.mails


async def test_starttls_with_a_private_ca_and_a_login(certificate: Certificate) -> None:
    box = Mailbox()
    with smtp_server(box, certificate=certificate, starttls=True, auth=True) as port:
        config = settings(
            f"smtp://localhost:{port}",
            username=USER,
            password=PASSWORD,
            ca_certificate=certificate.pem,
        )
        outcome, _ = await send(config)
        wrong, _ = await send(config.model_copy(update={"password": "wrong-password"}))
    assert outcome.kind is OutcomeKind.DELIVERED and len(box.mails) == 1
    assert (wrong.kind, wrong.code) == (OutcomeKind.PERMANENT, "535")
    assert "username or password" in wrong.message


async def test_implicit_tls_checks_the_certificate(certificate: Certificate) -> None:
    box = Mailbox()
    with smtp_server(box, certificate=certificate, implicit_tls=True) as port:
        trusted, _ = await send(
            settings(f"smtps://127.0.0.1:{port}", ca_certificate=certificate.pem)
        )
        untrusted, answer = await send(settings(f"smtps://127.0.0.1:{port}"))
    assert trusted.kind is OutcomeKind.DELIVERED and len(box.mails) == 1
    assert untrusted.kind is OutcomeKind.RETRYABLE and answer.status is None
    assert "certificate" in (answer.error or "")


async def test_refused_recipients() -> None:
    box = Mailbox(refuse={"sre@example.com": "550 5.1.1 No such user"})
    with smtp_server(box) as port:
        partial, _ = await send(settings(f"smtp://127.0.0.1:{port}", require_starttls=False))
        box.refuse["ops@example.com"] = "550 5.1.1 No such user"
        refused, _ = await send(settings(f"smtp://127.0.0.1:{port}", require_starttls=False))
        box.refuse = dict.fromkeys(TO, "450 4.2.1 Mailbox busy, try again")
        later, _ = await send(settings(f"smtp://127.0.0.1:{port}", require_starttls=False))
    assert (partial.kind, partial.code) == (OutcomeKind.PARTIAL, "250")
    assert "sre@example.com (550)" in partial.message
    assert (refused.kind, refused.code) == (OutcomeKind.PERMANENT, "550")
    assert (later.kind, later.code) == (OutcomeKind.RETRYABLE, "450")
    assert [recipients for _, recipients, _ in box.mails] == [["ops@example.com"]]


async def test_the_egress_guard_refuses_before_connecting() -> None:
    box = Mailbox()
    with smtp_server(box) as port:
        config = settings(f"smtp://127.0.0.1:{port}", require_starttls=False)
        _, answer = await send(config, EgressPolicy())
    assert answer.blocked and "loopback" in (answer.error or "") and not box.mails


async def test_nobody_listening_is_retried(tmp_path: Path) -> None:
    from tests.integration.channels.smtp_server import free_port

    outcome, answer = await send(
        settings(f"smtp://127.0.0.1:{free_port()}", require_starttls=False)
    )
    assert outcome.kind is OutcomeKind.RETRYABLE and answer.status is None

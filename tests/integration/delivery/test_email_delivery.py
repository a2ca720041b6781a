"""A canary release notified by email through the delivery worker: three mails at a local SMTP
server, each with its headers and both parts, recorded as delivered with the SMTP reply."""

from __future__ import annotations

import asyncio

import pytest

from herald.bootstrap import Container
from herald.domain.release import Environment, Strategy, TaskSpec, TaskType
from tests.integration.channels.smtp_server import Mailbox, smtp_server
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    attempt_rows,
    delivery_rows,
    eventually,
    make_project,
    running_worker,
)

pytestmark = pytest.mark.asyncio


async def test_a_canary_release_sends_three_mails(container: Container) -> None:
    box = Mailbox()
    with smtp_server(box) as port:
        project_id, version_id = make_project(container, "mail-shop")
        channel = {
            "type": "email",
            "config": {
                "server": f"smtp://127.0.0.1:{port}",
                "require_starttls": False,
                "from_address": "herald@example.com",
                "from_name": "Herald",
                "to": ["ops@example.com", "sre@example.com"],
            },
        }
        add_config(container, project_id, [channel], locale="en")
        spec = TaskSpec(
            project_id=project_id,
            version_id=version_id,
            type=TaskType.DEPLOY,
            strategy=Strategy.CANARY,
            environment=Environment.PRODUCTION,
            hosts=["a", "b", "c"],
            canary_count=1,
            executor={"type": "simulated", "host_seconds": 0.01},
            auto_promote_after=0,
        )
        task = container.release.create_task(spec)
        container.release.start(task.id)
        engine = asyncio.create_task(container.runner().run())
        try:
            async with running_worker(container):
                await eventually(lambda: len(box.mails) >= 3)
                await eventually(lambda: all_final(container))
        finally:
            engine.cancel()
            await asyncio.gather(engine, return_exceptions=True)
    deliveries = {d.id: d for d in delivery_rows(container)}
    subjects = [mail["Subject"] for _, _, mail in box.mails]
    assert subjects == [
        "Release notification: Canary started",
        "Release notification: Canary completed",
        "Release notification: Rollout completed",
    ]
    for sender, recipients, mail in box.mails:
        assert sender == "herald@example.com"
        assert recipients == ["ops@example.com", "sre@example.com"]
        assert mail["From"] == "Herald <herald@example.com>"
        assert mail["To"] == "ops@example.com, sre@example.com"
        assert mail["Date"] and mail["Auto-Submitted"] == "auto-generated"
        delivery_id = mail["Message-ID"].removeprefix("<").split(".herald@")[0]
        assert delivery_id in deliveries
        parts = {p.get_content_type(): p.get_content() for p in mail.iter_parts()}
        assert "Project: mail-shop" in parts["text/plain"]
        assert "<td" in parts["text/html"] and "mail-shop" in parts["text/html"]
    assert all(d.status == "success" and d.attempts == 1 for d in deliveries.values())
    attempts = attempt_rows(container)
    assert {(a.response_status, a.platform_code) for a in attempts} == {(250, "250")}
    assert all(a.request["method"] == "SMTP" for a in attempts)

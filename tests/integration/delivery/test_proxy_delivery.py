"""Deliveries through an egress proxy, end to end through the worker: the operator's
`HERALD_EGRESS_PROXY` carries a Feishu bot message and a WeCom app's token fetch and message,
a channel's own `proxy_url` overrides it; the proxy's password is never in the history, the
config as shown, the audit log or the logs."""

from __future__ import annotations

import json
import logging

import pytest

from herald.bootstrap import Container
from herald.domain.filters import AuditFilter
from herald.fakeplatforms import running_fake_platforms
from herald.fakeplatforms.connect_proxy import running_connect_proxy
from herald.publishing.callback_configs import describe_config
from herald.runtime.clock import SystemClock
from tests.conftest import make_settings
from tests.integration.delivery.delivery_support import (
    add_config,
    all_final,
    attempt_rows,
    custom_channel,
    delivery_rows,
    emit_stopped_tasks,
    eventually,
    make_project,
    running_worker,
)

OPERATOR_SECRET = "operator-proxy-pass-1"
CHANNEL_SECRET = "channel-proxy-pass-2"


@pytest.mark.asyncio
async def test_deliveries_go_through_the_proxies_and_their_passwords_stay_secret(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        running_fake_platforms() as fake,
        running_connect_proxy(("ops", OPERATOR_SECRET)) as operator_proxy,
        running_connect_proxy(("team", CHANNEL_SECRET)) as channel_proxy,
    ):
        fake.add_feishu_bot("fs")
        fake.add_wecom_app("corp", "app-secret-0123456789", 1000002, ["alice"])
        fake.set_endpoint("ops")
        settings = make_settings(sqlite_url, egress_proxy=operator_proxy.url_with_credentials())
        c = Container.build(settings, SystemClock())
        try:
            project_id, version_id = make_project(c)
            own_proxy = custom_channel(
                fake.endpoint_url("ops"), proxy_url=channel_proxy.url_with_credentials()
            )
            wechat = {
                "type": "wechat",
                "config": {
                    "corp_id": "corp",
                    "agent_id": 1000002,
                    "secret": "app-secret-0123456789",
                    "to_user": "alice",
                    "api_base": fake.wecom_api_base,
                },
            }
            feishu = {"type": "feishu", "config": {"webhook_url": fake.feishu_url("fs")}}
            config_id = add_config(c, project_id, [feishu, wechat, own_proxy])
            async with running_worker(c):
                emit_stopped_tasks(c, project_id, version_id, 1)
                await eventually(lambda: all_final(c))
            rows = delivery_rows(c)
            attempts = attempt_rows(c)
            shown = describe_config(c.callbacks.get(config_id))
            audit = c.audit.entries(AuditFilter(), before=None, limit=50)
        finally:
            c.close()
    assert [r.status for r in rows] == ["success"] * 3
    through_operator = [(r.method, r.target.split("?")[0]) for r in operator_proxy.requests]
    assert sorted(through_operator) == sorted(
        [
            ("GET", f"{fake.base_url}/cgi-bin/gettoken"),
            ("POST", f"{fake.base_url}/cgi-bin/message/send"),
            ("POST", fake.feishu_url("fs")),
        ]
    )
    assert [r.target for r in channel_proxy.requests] == [fake.endpoint_url("ops")]
    assert all(r.authorized for r in operator_proxy.requests + channel_proxy.requests)
    assert shown["channels"][2]["config"]["proxy_url"].startswith("http://team:****")
    everything = json.dumps(
        [
            [dict(r._mapping) for r in rows],
            [dict(a._mapping) for a in attempts],
            shown,
            [vars(e) for e in audit],
        ],
        default=str,
    )
    for secret in (OPERATOR_SECRET, CHANNEL_SECRET):
        assert secret not in everything
        assert secret not in caplog.text

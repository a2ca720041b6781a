"""Faithful local fakes of Feishu, DingTalk, WeCom, Slack, Discord and Teams plus a programmable webhook receiver.

One aiohttp application on 127.0.0.1 serves every fake (their paths never collide):

- Feishu custom bot        `POST /open-apis/bot/v2/hook/{token}[/]`
- DingTalk custom robot    `POST /robot/send?access_token=…[&timestamp=…&sign=…]`
- WeCom app API            `GET /cgi-bin/gettoken`, `POST /cgi-bin/message/send`
- WeCom group robot        `POST /cgi-bin/webhook/send?key=…`
- Slack webhook             `POST /services/{team}/{bot}/{secret}`
- Discord webhook           `POST /api[/v10]/webhooks/{id}/{token}[?wait=true]`
- Teams Workflows webhook   `POST /workflows/{id}/triggers/manual/paths/invoke?…&sig=…`
- Custom endpoint          `ANY /hook/{name}` (scripted ok/status/hang/reset/garbage/redirect)
- Control API              `/_fake/…` (JSON)

The behaviour contract is the shared platforms.md, §6. Success and error codes,
HTTP statuses, signature algorithms, UTF-8 byte caps and rate limits follow the published
values by default; `Limits` and an injected clock make every window testable. Every request
is recorded as a `RecordedRequest`, readable through `FakePlatforms.received()`.
"""

from herald.fakeplatforms.control import FakeConfig, apply_config
from herald.fakeplatforms.fake_dingtalk import DingTalkRobot
from herald.fakeplatforms.fake_endpoint import Behaviour, EndpointConfig, verify_standard_webhook
from herald.fakeplatforms.fake_feishu import FeishuBot
from herald.fakeplatforms.fake_wecom_app import WeComApp
from herald.fakeplatforms.fake_wecom_bot import WeComBot
from herald.fakeplatforms.hub import FakePlatforms
from herald.fakeplatforms.platform_limits import Clock, Limits
from herald.fakeplatforms.records import EndpointStats, Platform, RecordedRequest
from herald.fakeplatforms.server import build_app, serve, start_server
from herald.fakeplatforms.testing import FakePlatformsThread, ManualClock, running_fake_platforms

__all__ = [
    "Behaviour",
    "Clock",
    "DingTalkRobot",
    "EndpointConfig",
    "EndpointStats",
    "FakeConfig",
    "FakePlatforms",
    "FakePlatformsThread",
    "FeishuBot",
    "Limits",
    "ManualClock",
    "Platform",
    "RecordedRequest",
    "WeComApp",
    "WeComBot",
    "apply_config",
    "build_app",
    "running_fake_platforms",
    "serve",
    "start_server",
    "verify_standard_webhook",
]

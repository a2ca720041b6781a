"""Rendered requests sent with a plain aiohttp session to the faithful fake platforms, which
verify signatures, sizes and rate limits and answer with the real codes; `judge` reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from herald.channels.base import EventView, OutboundRequest, Outcome, OutcomeKind
from herald.channels.channel_config import ChannelConfig, parse_channel_config
from herald.channels.registry import get_sender
from herald.channels.wecom_app import WeComAppSender
from herald.domain.events import EVENT_TYPES
from herald.fakeplatforms import Behaviour, FakePlatforms, ManualClock
from herald.fakeplatforms.records import Platform
from tests.unit.channels.support import CHAT_TYPES, SECRETS, all_views, view
from tests.unit.channels.test_size import huge_view

pytestmark = pytest.mark.asyncio

FS_TOKEN = "fs-token-0123456789"
DT_TOKEN = "dt-token-0123456789abcdef"
CORP, AGENT = "ww0123456789abcdef", 1000002
BOT_KEY = "bot-key-0123456789"
SLACK_PATH = "T0001/B0002/slack0123456789secret"
DISCORD_ID, DISCORD_TOKEN = "112233445566778899", "discord-token-0123456789"
TEAMS_FLOW, TEAMS_SIG = "0a1b2c3d4e5f", "teams-signature-0123456789"
PLATFORMS = {
    "feishu": (Platform.FEISHU, FS_TOKEN),
    "dingtalk": (Platform.DINGTALK, DT_TOKEN),
    "wechat": (Platform.WECOM_APP, f"{CORP}/{AGENT}"),
    "wecom_bot": (Platform.WECOM_BOT, BOT_KEY),
    "custom": (Platform.ENDPOINT, "ops"),
    "slack": (Platform.SLACK, SLACK_PATH),
    "discord": (Platform.DISCORD, DISCORD_ID),
    "teams": (Platform.TEAMS, TEAMS_FLOW),
}


def register(fake: FakePlatforms) -> None:
    fake.add_feishu_bot(FS_TOKEN, secret=SECRETS["feishu"])
    fake.add_dingtalk_robot(DT_TOKEN, secret=SECRETS["dingtalk"])
    fake.add_wecom_app(CORP, SECRETS["wechat"], AGENT, ["zhangsan", "lisi"])
    fake.add_wecom_bot(BOT_KEY)
    fake.set_endpoint("ops", Behaviour.ok(), secret=SECRETS["custom"], enforce_signature=True)
    fake.add_slack_webhook(SLACK_PATH)
    fake.add_discord_webhook(DISCORD_ID, DISCORD_TOKEN)
    fake.add_teams_workflow(TEAMS_FLOW, TEAMS_SIG)


def settings(fake: FakePlatforms, channel_type: str, **changes: Any) -> ChannelConfig:
    raws: dict[str, dict[str, Any]] = {
        "feishu": {"webhook_url": fake.feishu_url(FS_TOKEN), "sign_secret": SECRETS["feishu"]},
        "dingtalk": {
            "webhook_url": fake.dingtalk_url(DT_TOKEN),
            "sign_secret": SECRETS["dingtalk"],
        },
        "wechat": {
            "corp_id": CORP,
            "agent_id": AGENT,
            "secret": SECRETS["wechat"],
            "api_base": fake.wecom_api_base,
        },
        "wecom_bot": {"webhook_url": fake.wecom_bot_url(BOT_KEY)},
        "custom": {"url": fake.endpoint_url("ops"), "signing_secret": SECRETS["custom"]},
        "slack": {"webhook_url": fake.slack_url(SLACK_PATH)},
        "discord": {"webhook_url": fake.discord_url(DISCORD_ID, DISCORD_TOKEN)},
        "teams": {"webhook_url": fake.teams_url(TEAMS_FLOW, TEAMS_SIG)},
    }
    return parse_channel_config(channel_type, {**raws[channel_type], **changes})


async def send(
    http: aiohttp.ClientSession, request: OutboundRequest
) -> tuple[int, Mapping[str, str], bytes]:
    async with http.request(
        request.method,
        request.url,
        headers=dict(request.headers),
        data=request.body or None,
        timeout=aiohttp.ClientTimeout(total=request.timeout),
        allow_redirects=False,
    ) as response:
        return response.status, dict(response.headers), await response.read()


async def token_for(http: aiohttp.ClientSession, cfg: ChannelConfig) -> str | Outcome:
    sender = WeComAppSender()
    status, _, body = await send(http, sender.token_request(cfg))
    parsed = sender.parse_token(status, body)
    return parsed if isinstance(parsed, Outcome) else parsed[0]


async def deliver(
    http: aiohttp.ClientSession,
    cfg: ChannelConfig,
    events: EventView | list[EventView],
    now: float,
    token: str | None = None,
) -> Outcome:
    sender: Any = get_sender(cfg.channel_type)
    if cfg.channel_type == "wechat" and token is None:
        got = await token_for(http, cfg)
        assert isinstance(got, str), got
        token = got
    extra = {"access_token": token} if cfg.channel_type == "wechat" else {}
    if isinstance(events, list):
        request = sender.render_digest(events, cfg, now=now, **extra)
    else:
        request = sender.render(events, cfg, now=now, access_token=token)
    status, headers, body = await send(http, request)
    outcome: Outcome = sender.judge(status, headers, body)
    return outcome


async def test_every_event_is_accepted_and_verified(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock, channel_type: str
) -> None:
    if channel_type not in PLATFORMS:
        pytest.skip(f"{channel_type} has no HTTP fake (see its own tests)")
    register(fake)
    cfg = settings(fake, channel_type)
    for event in all_views():
        outcome = await deliver(http, cfg, event, clock())
        assert outcome.kind is OutcomeKind.DELIVERED, (event.payload["event_type"], outcome)
    platform, key = PLATFORMS[channel_type]
    received = fake.received(platform, key)
    assert len(received) == len(EVENT_TYPES) and all(r.delivered for r in received)
    if channel_type == "custom":
        assert all(r.signature_valid for r in received)
        assert [r.webhook_id for r in received] == [f"dlv-{t}" for t in EVENT_TYPES]


@pytest.mark.parametrize("channel_type", [t for t in CHAT_TYPES if t in PLATFORMS])
async def test_digests_are_accepted(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock, channel_type: str
) -> None:
    register(fake)
    outcome = await deliver(http, settings(fake, channel_type), all_views(), clock())
    assert outcome.kind is OutcomeKind.DELIVERED, outcome


@pytest.mark.parametrize("channel_type", [t for t in CHAT_TYPES if t in PLATFORMS])
async def test_600_host_messages_are_accepted(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock, channel_type: str
) -> None:
    register(fake)
    cfg = settings(fake, channel_type)
    for event_type in EVENT_TYPES:
        outcome = await deliver(http, cfg, huge_view(event_type), clock())
        assert outcome.kind is OutcomeKind.DELIVERED, (event_type, outcome)
    platform, key = PLATFORMS[channel_type]
    received = fake.received(platform, key)
    assert all(r.delivered for r in received)
    # Never 9499/460101/40058; platforms that answer with a status have no code.
    assert received and {r.code for r in received} <= {0, None}


WRONG = [
    ("feishu", {"sign_secret": "not-the-bots-secret"}, "19021", "sign_secret"),
    ("dingtalk", {"sign_secret": "SECnot-the-robots-secret"}, "310000", "sign_secret"),
    ("wecom_bot", {"webhook_url": "KEY"}, "93000", "webhook key"),
    ("custom", {"signing_secret": "whsec_" + "QUJD" * 8}, "http_401", "invalid signature"),
]


@pytest.mark.parametrize(("channel_type", "changes", "code", "needle"), WRONG)
async def test_a_wrong_credential_is_a_permanent_error(
    fake: FakePlatforms,
    http: aiohttp.ClientSession,
    clock: ManualClock,
    channel_type: str,
    changes: dict[str, str],
    code: str,
    needle: str,
) -> None:
    register(fake)
    if changes.get("webhook_url") == "KEY":
        changes = {"webhook_url": fake.wecom_bot_url("no-such-key")}
    outcome = await deliver(
        http, settings(fake, channel_type, **changes), view("task_failed"), clock()
    )
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, code), outcome
    assert needle in outcome.message


async def test_a_wrong_wecom_secret_fails_at_gettoken(
    fake: FakePlatforms, http: aiohttp.ClientSession
) -> None:
    register(fake)
    outcome = await token_for(http, settings(fake, "wechat", secret="not-the-apps-secret"))
    assert isinstance(outcome, Outcome)
    assert (outcome.kind, outcome.code) == (OutcomeKind.PERMANENT, "40001")
    wrong_corp = await token_for(http, settings(fake, "wechat", corp_id="ww-unknown"))
    assert isinstance(wrong_corp, Outcome) and wrong_corp.code == "40013"


async def test_wecom_tokens_expire_and_refresh(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    register(fake)
    cfg = settings(fake, "wechat")
    token = await token_for(http, cfg)
    assert isinstance(token, str)
    assert (
        await deliver(http, cfg, view("canary_started"), clock(), token)
    ).kind is OutcomeKind.DELIVERED
    fake.expire_wecom_tokens(CORP)
    expired = await deliver(http, cfg, view("canary_completed"), clock(), token)
    assert (expired.kind, expired.code) == (OutcomeKind.TOKEN_EXPIRED, "42001")
    fresh = await token_for(http, cfg)
    assert isinstance(fresh, str) and fresh != token
    assert (
        await deliver(http, cfg, view("canary_completed"), clock(), fresh)
    ).kind is OutcomeKind.DELIVERED
    fake.invalidate_wecom_tokens(CORP)
    revoked = await deliver(http, cfg, view("full_completed"), clock(), fresh)
    assert (revoked.kind, revoked.code) == (OutcomeKind.TOKEN_EXPIRED, "40014")
    bogus = await deliver(http, cfg, view("full_completed"), clock(), "bogus-token")
    assert bogus.kind is OutcomeKind.TOKEN_EXPIRED


async def test_unknown_wecom_recipients_are_a_partial_delivery(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    register(fake)
    cfg = settings(fake, "wechat", to_user="zhangsan|ghost")
    outcome = await deliver(http, cfg, view("task_failed"), clock())
    assert outcome.kind is OutcomeKind.PARTIAL and "ghost" in outcome.message
    nobody = await deliver(
        http, settings(fake, "wechat", to_user="ghost"), view("task_failed"), clock()
    )
    assert (nobody.kind, nobody.code) == (OutcomeKind.PERMANENT, "81013")


async def test_keyword_filters_see_heralds_wording(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot(FS_TOKEN, keywords=("发布",))
    fake.add_dingtalk_robot(DT_TOKEN, keywords=("Herald",))
    feishu = settings(fake, "feishu", sign_secret=None)
    dingtalk = settings(fake, "dingtalk", sign_secret=None)
    assert (await deliver(http, feishu, view("task_failed"), clock())).kind is OutcomeKind.DELIVERED
    assert (
        await deliver(http, dingtalk, view("task_failed"), clock())
    ).kind is OutcomeKind.DELIVERED
    fake.add_feishu_bot(FS_TOKEN, keywords=("部署成功",))
    fake.add_dingtalk_robot(DT_TOKEN, keywords=("部署成功",))
    missed = [
        await deliver(http, feishu, view("task_failed"), clock()),
        await deliver(http, dingtalk, view("task_failed"), clock()),
    ]
    assert [(o.kind, o.code) for o in missed] == [
        (OutcomeKind.PERMANENT, "19024"),
        (OutcomeKind.PERMANENT, "310000"),
    ]
    assert all("keyword" in o.message for o in missed)


async def test_rate_limits_are_retryable_with_the_platform_penalty(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot(FS_TOKEN, secret=SECRETS["feishu"], per_second=1)
    fake.add_dingtalk_robot(DT_TOKEN, secret=SECRETS["dingtalk"], per_window=1)
    fake.add_wecom_bot(BOT_KEY, per_minute=1)
    expected = {
        "feishu": ("11232", 5.0),
        "dingtalk": ("130101", 600.0),
        "wecom_bot": ("45009", 60.0),
    }
    for channel_type, (code, wait) in expected.items():
        cfg = settings(fake, channel_type)
        first = await deliver(http, cfg, view("canary_started"), clock())
        second = await deliver(http, cfg, view("canary_completed"), clock())
        assert first.kind is OutcomeKind.DELIVERED, first
        assert (second.kind, second.code, second.rate_limited) == (
            OutcomeKind.RETRYABLE,
            code,
            True,
        )
        assert second.retry_after == wait


async def test_legacy_feishu_and_dingtalk_gateway_answers(
    fake: FakePlatforms, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    fake.add_feishu_bot(FS_TOKEN, legacy=True)
    fake.add_dingtalk_robot(DT_TOKEN, gateway_mode=True)
    legacy = await deliver(
        http, settings(fake, "feishu", sign_secret=None), view("task_failed"), clock()
    )
    assert legacy.kind is OutcomeKind.DELIVERED
    gateway = await deliver(
        http, settings(fake, "dingtalk", sign_secret=None), view("task_failed"), clock()
    )
    assert gateway.kind is OutcomeKind.RETRYABLE and gateway.retry_after == 5.0


ENDPOINT_FAULTS = [
    (Behaviour.with_status(503, b"busy", retry_after=30), OutcomeKind.RETRYABLE, 30.0),
    (Behaviour.with_status(429, b"", retry_after=2), OutcomeKind.RETRYABLE, 2.0),
    (Behaviour.with_status(410, b"gone"), OutcomeKind.PERMANENT, None),
    (Behaviour.redirect("http://127.0.0.1:1/elsewhere"), OutcomeKind.PERMANENT, None),
    (Behaviour.garbage(), OutcomeKind.DELIVERED, None),
]


@pytest.mark.parametrize(("behaviour", "kind", "wait"), ENDPOINT_FAULTS)
async def test_custom_endpoint_answers(
    fake: FakePlatforms,
    http: aiohttp.ClientSession,
    clock: ManualClock,
    behaviour: Behaviour,
    kind: OutcomeKind,
    wait: float | None,
) -> None:
    fake.set_endpoint("ops", behaviour)
    cfg = settings(fake, "custom", signing_secret=None, method="PUT")
    outcome = await deliver(http, cfg, view("task_stopped"), clock())
    assert (outcome.kind, outcome.retry_after) == (kind, wait)
    (record,) = fake.received(Platform.ENDPOINT, "ops")
    assert record.method == "PUT" and record.json == view("task_stopped").payload

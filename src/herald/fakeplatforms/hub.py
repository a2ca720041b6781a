"""`FakePlatforms`: the in-process handle over every fake — registrations, test controls,
recorded requests and (once a server is bound) the URLs to point Herald at.

All methods are thread-safe: a `FakePlatformsThread` serves from a background loop while the
test thread calls them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from herald.fakeplatforms.fake_dingtalk import DingTalkFake, DingTalkRobot
from herald.fakeplatforms.fake_discord import DiscordFake, DiscordWebhook
from herald.fakeplatforms.fake_endpoint import Behaviour, EndpointConfig, EndpointFake
from herald.fakeplatforms.fake_feishu import FeishuBot, FeishuFake
from herald.fakeplatforms.fake_slack import Forced, SlackFake, SlackWebhook
from herald.fakeplatforms.fake_teams import TeamsFake, TeamsWorkflow
from herald.fakeplatforms.fake_wecom_app import WeComApp, WeComAppFake
from herald.fakeplatforms.fake_wecom_bot import WeComBot, WeComBotFake
from herald.fakeplatforms.platform_limits import Clock, Limits
from herald.fakeplatforms.plumbing import FakeContext
from herald.fakeplatforms.records import EndpointStats, Platform, RecordedRequest


class FakePlatforms:
    """Every fake plus shared clock, limits and request log.

    `clock` returns Unix seconds (default `time.time`) and drives signatures, token expiry and
    every rate window; `limits` defaults to the published values.
    """

    def __init__(self, clock: Clock | None = None, limits: Limits | None = None) -> None:
        self._ctx = FakeContext(clock=clock or time.time, limits=limits or Limits())
        self.feishu = FeishuFake(self._ctx)
        self.dingtalk = DingTalkFake(self._ctx)
        self.wecom = WeComAppFake(self._ctx)
        self.wecom_bots = WeComBotFake(self._ctx)
        self.endpoints = EndpointFake(self._ctx)
        self.slack = SlackFake(self._ctx)
        self.discord = DiscordFake(self._ctx)
        self.teams = TeamsFake(self._ctx)
        self._base_url: str | None = None

    # -- clock, limits, binding -------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def limits(self) -> Limits:
        return self._ctx.limits

    def set_limits(self, **changes: Any) -> Limits:
        """Replace some `Limits` fields (e.g. `dingtalk_penalty_s=5`); returns the new limits.

        Raises ValueError for a field `Limits` does not have.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(Limits)}
        if unknown:
            raise ValueError(f"unknown limits: {sorted(unknown)}")
        with self._ctx.lock:
            self._ctx.limits = dataclasses.replace(self._ctx.limits, **changes)
            return self._ctx.limits

    def bind(self, base_url: str) -> None:
        """Record where the server listens (scheme://host:port); the runners call this."""
        self._base_url = base_url.rstrip("/")

    def routes(self) -> list[web.RouteDef]:
        """Every platform and endpoint route; paths never collide."""
        return [route for fake in self._fakes() for route in fake.routes()]

    def _fakes(self) -> tuple[Any, ...]:
        return (
            self.feishu,
            self.dingtalk,
            self.wecom,
            self.wecom_bots,
            self.endpoints,
            self.slack,
            self.discord,
            self.teams,
        )

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """scheme://host:port of the running server; RuntimeError before it is bound."""
        if self._base_url is None:
            raise RuntimeError("the fake platforms server is not running")
        return self._base_url

    def feishu_url(self, token: str) -> str:
        return f"{self.base_url}/open-apis/bot/v2/hook/{quote(token, safe='')}"

    def dingtalk_url(self, token: str) -> str:
        """Unsigned robot URL; signed senders append `&timestamp=…&sign=…` themselves."""
        return f"{self.base_url}/robot/send?{urlencode({'access_token': token})}"

    @property
    def wecom_api_base(self) -> str:
        """Base for the WeCom app API; Herald appends `/cgi-bin/...`."""
        return self.base_url

    def wecom_bot_url(self, key: str) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?{urlencode({'key': key})}"

    def endpoint_url(self, name: str) -> str:
        return f"{self.base_url}/hook/{quote(name, safe='')}"

    def slack_url(self, path: str) -> str:
        """`path` is `team/bot/secret`, as registered."""
        return f"{self.base_url}/services/{path}"

    def discord_url(self, webhook_id: str, token: str) -> str:
        return f"{self.base_url}/api/webhooks/{quote(webhook_id, safe='')}/{quote(token, safe='')}"

    def teams_url(self, workflow_id: str, sig: str) -> str:
        query = urlencode({"api-version": "2016-06-01", "sp": "/triggers/manual/run", "sig": sig})
        return f"{self.base_url}/workflows/{quote(workflow_id, safe='')}/triggers/manual/paths/invoke?{query}"

    # -- registrations ------------------------------------------------------------------------

    def add_feishu_bot(
        self,
        token: str,
        secret: str | None = None,
        keywords: Iterable[str] = (),
        legacy: bool = False,
        *,
        ip_allowlist: Iterable[str] = (),
        per_second: int | None = None,
        per_minute: int | None = None,
    ) -> FeishuBot:
        """Register a Feishu custom bot (replacing one with the same token)."""
        bot = FeishuBot(
            token, secret, tuple(keywords), legacy, tuple(ip_allowlist), per_second, per_minute
        )
        self.feishu.add_bot(bot)
        return bot

    def add_dingtalk_robot(
        self,
        token: str,
        secret: str | None = None,
        keywords: Iterable[str] = (),
        gateway_mode: bool = False,
        *,
        ip_allowlist: Iterable[str] = (),
        per_window: int | None = None,
        penalty_s: float | None = None,
    ) -> DingTalkRobot:
        """Register a DingTalk robot (replacing one with the same token)."""
        robot = DingTalkRobot(
            token, secret, tuple(keywords), gateway_mode, tuple(ip_allowlist), per_window, penalty_s
        )
        self.dingtalk.add_robot(robot)
        return robot

    def add_wecom_app(
        self,
        corp_id: str,
        secret: str,
        agent_id: int,
        users: Iterable[str],
        *,
        parties: Iterable[str] = (),
        tags: Iterable[str] = (),
        member_per_minute: int | None = None,
        api_per_minute: int | None = None,
    ) -> WeComApp:
        """Register a WeCom app whose members are `users` (replacing the same corp+agent)."""
        app = WeComApp(
            corp_id,
            secret,
            agent_id,
            tuple(users),
            tuple(parties),
            tuple(tags),
            member_per_minute,
            api_per_minute,
        )
        self.wecom.add_app(app)
        return app

    def add_wecom_bot(self, key: str, *, per_minute: int | None = None) -> WeComBot:
        """Register a WeCom group robot key."""
        bot = WeComBot(key, per_minute)
        self.wecom_bots.add_bot(bot)
        return bot

    def set_endpoint(
        self,
        name: str,
        behaviour: Behaviour | Sequence[Behaviour] | None = None,
        *,
        secret: str | None = None,
        enforce_signature: bool = False,
    ) -> EndpointConfig:
        """Script `/hook/{name}`: one behaviour for every request, or a sequence whose last
        entry repeats (default: always 204). `secret` (`whsec_…`) turns on Standard Webhooks
        verification."""
        if behaviour is None:
            behaviour = Behaviour.ok()
        script = (behaviour,) if isinstance(behaviour, Behaviour) else tuple(behaviour)
        config = EndpointConfig(name, script, secret, enforce_signature)
        self.endpoints.set_endpoint(config)
        return config

    def add_slack_webhook(
        self, path: str, *, state: str = "ok", per_second: int | None = None
    ) -> SlackWebhook:
        """Register a Slack webhook `team/bot/secret`; `state` names an error it answers."""
        hook = SlackWebhook(path, state, per_second)
        self.slack.add_webhook(hook)
        return hook

    def force_slack(
        self, path: str, status: int, text: str, retry_after: float | None = None
    ) -> None:
        """Queue one answer the webhook gives instead of its normal checks."""
        self.slack.force(path, Forced(status, text, retry_after))

    def add_discord_webhook(
        self, webhook_id: str, token: str, *, per_window: int | None = None
    ) -> DiscordWebhook:
        """Register a Discord webhook."""
        hook = DiscordWebhook(webhook_id, token, per_window)
        self.discord.add_webhook(hook)
        return hook

    def force_discord(self, webhook_id: str, status: int, body: dict[str, Any]) -> None:
        """Queue one JSON answer the webhook gives instead of its normal checks (a 429 body's
        `retry_after` also becomes the Retry-After header)."""
        self.discord.force(webhook_id, status, body)

    def add_teams_workflow(self, workflow_id: str, sig: str) -> TeamsWorkflow:
        """Register a Teams Workflows webhook (its `sig` is the credential)."""
        flow = TeamsWorkflow(workflow_id, sig)
        self.teams.add_workflow(flow)
        return flow

    def force_teams(
        self, workflow_id: str, status: int, body: dict[str, Any], retry_after: float | None = None
    ) -> None:
        """Queue one answer the workflow gives instead of its normal checks."""
        self.teams.force(workflow_id, status, body, retry_after)

    # -- test controls and inspection -------------------------------------------------------

    def expire_wecom_tokens(self, corp_id: str | None = None) -> list[str]:
        """Expire live WeCom tokens now (sends answer 42001); returns the tokens affected."""
        return self.wecom.expire_tokens(corp_id)

    def invalidate_wecom_tokens(self, corp_id: str | None = None) -> list[str]:
        """Revoke live WeCom tokens (sends answer 40014); returns the tokens affected."""
        return self.wecom.invalidate_tokens(corp_id)

    def dingtalk_blocked_until(self, token: str) -> float | None:
        """When the robot's 130101 penalty ends (clock seconds), None if not penalised."""
        return self.dingtalk.blocked_until(token)

    def received(
        self,
        platform: Platform | str | None = None,
        key: str | None = None,
        *,
        code: int | None = None,
        delivered: bool | None = None,
        since: float | None = None,
    ) -> list[RecordedRequest]:
        """Recorded requests matching every given filter, oldest first."""
        with self._ctx.lock:
            return self._ctx.recorder.select(
                platform, key, code=code, delivered=delivered, since=since
            )

    def endpoint_stats(self, name: str) -> EndpointStats:
        """Request, distinct webhook-id, duplicate and signature counts for `/hook/{name}`,
        and the most requests it served at once."""
        with self._ctx.lock:
            stats = self._ctx.recorder.endpoint_stats(name)
        return dataclasses.replace(stats, max_in_flight=self.endpoints.max_in_flight(name))

    def reset(self, *, keep_registrations: bool = False) -> None:
        """Forget recorded requests and all dynamic state (rate windows, penalties, tokens,
        duplicate memory, endpoint script positions); also registrations unless kept.
        Limits and the clock are left as they are."""
        with self._ctx.lock:
            self._ctx.recorder.clear()
            for fake in self._fakes():
                fake.reset(keep_registrations)

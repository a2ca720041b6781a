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
from herald.fakeplatforms.fake_endpoint import Behaviour, EndpointConfig, EndpointFake
from herald.fakeplatforms.fake_feishu import FeishuBot, FeishuFake
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
        fakes = (self.feishu, self.dingtalk, self.wecom, self.wecom_bots, self.endpoints)
        return [route for fake in fakes for route in fake.routes()]

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
            fakes = (self.feishu, self.dingtalk, self.wecom, self.wecom_bots, self.endpoints)
            for fake in fakes:
                fake.reset(keep_registrations)

"""Configuration schema and the JSON control API under `/_fake/`.

The same `FakeConfig` document registers bots when the server starts (`serve(config=…)`)
and at runtime (`POST /_fake/config`). Routes:

- `POST /_fake/config` — apply a `FakeConfig` document (adds/replaces registrations)
- `POST /_fake/feishu/bots`, `/_fake/dingtalk/robots`, `/_fake/wecom/apps`, `/_fake/wecom/bots`,
  `/_fake/slack/webhooks`, `/_fake/discord/webhooks`, `/_fake/teams/workflows`
- `PUT /_fake/endpoints/{name}` — `{"behaviour": {...} | [{...}, ...], "secret": ...}`
- `GET /_fake/endpoints/{name}/stats`
- `POST /_fake/wecom/tokens/expire` and `/invalidate` — `{"corp_id": ...}` (optional)
- `GET /_fake/requests?platform=&key=&code=&delivered=&since=`
- `GET|PATCH /_fake/limits` — read, or replace some `Limits` fields
- `POST /_fake/reset` — `{"keep_registrations": false}`

Invalid input answers 400 `{"error": "..."}`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from herald.fakeplatforms.fake_endpoint import Behaviour
from herald.fakeplatforms.hub import FakePlatforms
from herald.fakeplatforms.platform_limits import Limits

# Field types are strings here because limits.py uses postponed annotations.
_INT_LIMITS = frozenset(f.name for f in dataclasses.fields(Limits) if f.type == "int")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeishuBotSpec(_Spec):
    token: str
    secret: str | None = None
    keywords: list[str] = Field(default_factory=list)
    legacy: bool = False
    ip_allowlist: list[str] = Field(default_factory=list)
    per_second: int | None = None
    per_minute: int | None = None


class DingTalkRobotSpec(_Spec):
    token: str
    secret: str | None = None
    keywords: list[str] = Field(default_factory=list)
    gateway_mode: bool = False
    ip_allowlist: list[str] = Field(default_factory=list)
    per_window: int | None = None
    penalty_s: float | None = None


class WeComAppSpec(_Spec):
    corp_id: str
    secret: str
    agent_id: int
    users: list[str] = Field(default_factory=list)
    parties: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    member_per_minute: int | None = None
    api_per_minute: int | None = None


class WeComBotSpec(_Spec):
    key: str
    per_minute: int | None = None


class SlackWebhookSpec(_Spec):
    path: str
    state: str = "ok"
    per_second: int | None = None


class DiscordWebhookSpec(_Spec):
    webhook_id: str
    token: str
    per_window: int | None = None


class TeamsWorkflowSpec(_Spec):
    workflow_id: str
    sig: str


class EndpointSpec(_Spec):
    name: str
    behaviour: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)
    secret: str | None = None
    enforce_signature: bool = False


class FakeConfig(_Spec):
    """A whole registration document (JSON or TOML shaped the same way)."""

    feishu: list[FeishuBotSpec] = Field(default_factory=list)
    dingtalk: list[DingTalkRobotSpec] = Field(default_factory=list)
    wecom_apps: list[WeComAppSpec] = Field(default_factory=list)
    wecom_bots: list[WeComBotSpec | str] = Field(default_factory=list)
    endpoints: list[EndpointSpec] = Field(default_factory=list)
    slack: list[SlackWebhookSpec] = Field(default_factory=list)
    discord: list[DiscordWebhookSpec] = Field(default_factory=list)
    teams: list[TeamsWorkflowSpec] = Field(default_factory=list)
    limits: dict[str, float] = Field(default_factory=dict)


def apply_config(fake: FakePlatforms, config: dict[str, Any] | None) -> None:
    """Validate `config` as a `FakeConfig` and register everything in it.

    Raises ValueError (pydantic's ValidationError is one) on an invalid document.
    """
    doc = FakeConfig.model_validate(config or {})
    if doc.limits:
        fake.set_limits(**_limit_values(doc.limits))
    for bot in doc.feishu:
        fake.add_feishu_bot(**bot.model_dump())
    for robot in doc.dingtalk:
        fake.add_dingtalk_robot(**robot.model_dump())
    for app in doc.wecom_apps:
        fake.add_wecom_app(**app.model_dump())
    for key in doc.wecom_bots:
        if isinstance(key, str):
            fake.add_wecom_bot(key)
        else:
            fake.add_wecom_bot(**key.model_dump())
    for endpoint in doc.endpoints:
        _apply_endpoint(fake, endpoint)
    for hook in doc.slack:
        fake.add_slack_webhook(**hook.model_dump())
    for webhook in doc.discord:
        fake.add_discord_webhook(**webhook.model_dump())
    for flow in doc.teams:
        fake.add_teams_workflow(**flow.model_dump())


def _limit_values(values: dict[str, float]) -> dict[str, float | int]:
    """Keep integer-typed `Limits` fields integers (JSON and TOML may send 20.0)."""
    return {k: int(v) if k in _INT_LIMITS else v for k, v in values.items()}


def _apply_endpoint(fake: FakePlatforms, spec: EndpointSpec) -> None:
    raw = spec.behaviour if isinstance(spec.behaviour, list) else [spec.behaviour]
    script = [Behaviour.from_json(item) for item in raw] or [Behaviour.ok()]
    fake.set_endpoint(
        spec.name, script, secret=spec.secret, enforce_signature=spec.enforce_signature
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bad_input(handler: Handler) -> Handler:
    """Turn validation failures into 400 {"error": ...} instead of a 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return wrapped


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not await request.read():
        return {}
    value = json.loads(await request.text())
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def control_routes(fake: FakePlatforms) -> list[web.RouteDef]:
    """The `/_fake/` JSON API bound to `fake`."""
    api = _ControlApi(fake)
    routes = [
        web.post("/_fake/config", api.config),
        web.post("/_fake/feishu/bots", api.section("feishu")),
        web.post("/_fake/dingtalk/robots", api.section("dingtalk")),
        web.post("/_fake/wecom/apps", api.section("wecom_apps")),
        web.post("/_fake/wecom/bots", api.section("wecom_bots")),
        web.post("/_fake/slack/webhooks", api.section("slack")),
        web.post("/_fake/discord/webhooks", api.section("discord")),
        web.post("/_fake/teams/workflows", api.section("teams")),
        web.put("/_fake/endpoints/{name}", api.put_endpoint),
        web.get("/_fake/endpoints/{name}/stats", api.endpoint_stats),
        web.post("/_fake/wecom/tokens/{action:expire|invalidate}", api.tokens),
        web.get("/_fake/requests", api.requests),
        web.get("/_fake/limits", api.get_limits),
        web.patch("/_fake/limits", api.patch_limits),
        web.post("/_fake/reset", api.reset),
    ]
    return [web.route(r.method, r.path, _bad_input(r.handler)) for r in routes]


class _ControlApi:
    def __init__(self, fake: FakePlatforms) -> None:
        self._fake = fake

    async def config(self, request: web.Request) -> web.Response:
        apply_config(self._fake, await _json_body(request))
        return web.json_response({"ok": True})

    def section(self, name: str) -> Handler:
        """POST one registration object into the config section `name`."""

        async def handler(request: web.Request) -> web.Response:
            apply_config(self._fake, {name: [await _json_body(request)]})
            return web.json_response({"ok": True}, status=201)

        return handler

    async def put_endpoint(self, request: web.Request) -> web.Response:
        spec = {**await _json_body(request), "name": request.match_info["name"]}
        apply_config(self._fake, {"endpoints": [spec]})
        return web.json_response({"ok": True})

    async def endpoint_stats(self, request: web.Request) -> web.Response:
        stats = self._fake.endpoint_stats(request.match_info["name"])
        return web.json_response(dataclasses.asdict(stats))

    async def tokens(self, request: web.Request) -> web.Response:
        corp_id = (await _json_body(request)).get("corp_id")
        if request.match_info["action"] == "expire":
            affected = self._fake.expire_wecom_tokens(corp_id)
        else:
            affected = self._fake.invalidate_wecom_tokens(corp_id)
        return web.json_response({"tokens": affected})

    async def requests(self, request: web.Request) -> web.Response:
        q = request.query
        records = self._fake.received(
            q.get("platform") or None,
            q.get("key"),
            code=int(q["code"]) if "code" in q else None,
            delivered=q["delivered"].lower() == "true" if "delivered" in q else None,
            since=float(q["since"]) if "since" in q else None,
        )
        return web.json_response({"requests": [r.to_json() for r in records]})

    async def get_limits(self, _request: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(self._fake.limits))

    async def patch_limits(self, request: web.Request) -> web.Response:
        changes = _limit_values({k: float(v) for k, v in (await _json_body(request)).items()})
        return web.json_response(dataclasses.asdict(self._fake.set_limits(**changes)))

    async def reset(self, request: web.Request) -> web.Response:
        keep = bool((await _json_body(request)).get("keep_registrations", False))
        self._fake.reset(keep_registrations=keep)
        return web.json_response({"ok": True})

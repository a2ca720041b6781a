"""Fake Microsoft Teams Workflows webhook (Power Automate "When a Teams webhook request is
received"): `POST /workflows/{id}/triggers/manual/paths/invoke?api-version=…&sp=…&sig=…`.

Checks, answered in the Logic Apps error shape `{"error": {"code", "message"}}`: unknown
workflow (404 WorkflowNotFound) → missing or wrong `sig` (401 DirectApiAuthorizationRequired /
DirectApiInvalidAuthorizationSignature) → a queued forced answer → throttling, 4 requests per
second per workflow (429 WorkflowRequestsThrottled with Retry-After) → JSON object with
`type: "message"` and `attachments` (400 TriggerInputSchemaMismatch) → each attachment an
Adaptive Card (`contentType` application/vnd.microsoft.card.adaptive, `content.type`
AdaptiveCard, a `version`, a `body` list; 400 InvalidTemplate) → 202 Accepted, empty body.

Like the real trigger, the fake accepts before the flow posts the card: a card over Teams'
28 KB message limit is answered 202 but recorded as not delivered (the flow run fails later).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herald.fakeplatforms.platform_limits import RateLog
from herald.fakeplatforms.plumbing import FakeContext, Reply, parse_object, record_reply
from herald.fakeplatforms.records import Platform

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True, slots=True)
class TeamsWorkflow:
    workflow_id: str
    sig: str


Answer = tuple[int, dict[str, Any], str, dict[str, str]]  # status, body, note, headers


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    return status, {"error": {"code": code, "message": message}}, "", headers or {}


class TeamsFake:
    def __init__(self, ctx: FakeContext) -> None:
        self._ctx = ctx
        self._flows: dict[str, TeamsWorkflow] = {}
        self._rates: dict[str, RateLog] = {}
        self._forced: dict[str, deque[tuple[int, dict[str, Any], float | None]]] = {}

    def add_workflow(self, flow: TeamsWorkflow) -> None:
        with self._ctx.lock:
            self._flows[flow.workflow_id] = flow

    def force(
        self, workflow_id: str, status: int, body: dict[str, Any], retry_after: float | None
    ) -> None:
        with self._ctx.lock:
            self._forced.setdefault(workflow_id, deque()).append((status, body, retry_after))

    def reset(self, keep_registrations: bool) -> None:
        with self._ctx.lock:
            self._rates.clear()
            self._forced.clear()
            if not keep_registrations:
                self._flows.clear()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/workflows/{id}/triggers/manual/paths/invoke", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        workflow_id = request.match_info["id"]
        with self._ctx.lock:
            status, payload, note, headers = self._answer(
                workflow_id, request.query.get("sig"), body
            )
            delivered = status == 202 and not note
            reply = Reply(payload, None, status, delivered=delivered, note=note)
            record_reply(self._ctx, Platform.TEAMS, workflow_id, request, body, reply)
        text = json.dumps(payload) if payload else ""
        kind = "application/json" if payload else None
        return web.Response(text=text, status=status, headers=headers, content_type=kind)

    def _answer(self, workflow_id: str, sig: str | None, body: bytes) -> Answer:
        flow = self._flows.get(workflow_id)
        if flow is None:
            return _error(404, "WorkflowNotFound", f"The workflow '{workflow_id}' was not found.")
        if not sig:
            return _error(401, "DirectApiAuthorizationRequired", "The request must be signed.")
        if sig != flow.sig:
            return _error(
                401, "DirectApiInvalidAuthorizationSignature", "The provided signature is invalid."
            )
        queue = self._forced.get(workflow_id)
        if queue:
            status, forced, wait = queue.popleft()
            return status, forced, "", {} if wait is None else {"Retry-After": f"{wait:g}"}
        log = self._rates.setdefault(workflow_id, RateLog())
        if not log.admit(self._ctx.clock(), [(self._ctx.limits.teams_per_second, 1.0)]):
            throttled = "Rate limit is exceeded. Try again in 1 seconds."
            return _error(429, "WorkflowRequestsThrottled", throttled, {"Retry-After": "1"})
        msg = parse_object(body)
        if (
            msg is None
            or msg.get("type") != "message"
            or not isinstance(msg.get("attachments"), list)
        ):
            return _error(
                400, "TriggerInputSchemaMismatch", "The input body does not match the schema."
            )
        for attachment in msg["attachments"]:
            if not _is_card(attachment):
                return _error(400, "InvalidTemplate", "The attachment is not an Adaptive Card.")
        if len(body) > self._ctx.limits.teams_max_body_bytes:
            return 202, {}, "accepted, but over Teams' 28 KB limit: the flow cannot post it", {}
        return 202, {}, "", {}


def _is_card(attachment: Any) -> bool:
    if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_TYPE:
        return False
    card = attachment.get("content")
    return (
        isinstance(card, dict)
        and card.get("type") == "AdaptiveCard"
        and isinstance(card.get("version"), str)
        and isinstance(card.get("body"), list)
    )

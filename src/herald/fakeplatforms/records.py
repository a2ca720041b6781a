"""What the fakes remember about every request they answered.

One `RecordedRequest` per HTTP request, for every platform and the custom endpoint. Records
are appended in arrival order; a custom-endpoint record is appended when the request arrives
(before any `hang`) and its `status` is filled in once answered, so crash tests can see
requests whose answer never came.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Platform(StrEnum):
    FEISHU = "feishu"
    DINGTALK = "dingtalk"
    WECOM_TOKEN = "wecom_token"  # noqa: S105 - GET /cgi-bin/gettoken, not a credential
    WECOM_APP = "wecom_app"  # POST /cgi-bin/message/send
    WECOM_BOT = "wecom_bot"  # POST /cgi-bin/webhook/send
    ENDPOINT = "endpoint"  # ANY /hook/{name}
    SLACK = "slack"  # POST /services/{team}/{bot}/{secret}
    DISCORD = "discord"  # POST /api/webhooks/{id}/{token}
    TEAMS = "teams"  # POST /workflows/{id}/triggers/manual/paths/invoke


@dataclass(slots=True)
class RecordedRequest:
    """One request and the fake's answer.

    `key` is the credential the request addressed: Feishu/DingTalk token, WeCom bot key, WeCom
    corp id (gettoken), "corp_id/agent_id" for app sends whose token resolved (else the raw
    token), or the endpoint name. `code` is the business code answered (`code`/`errcode`;
    None for endpoints and shapes without one). `status` is the HTTP status, None while an
    endpoint request is still pending or when its connection was reset. `delivered` is True
    only if the platform would have shown the message to someone. `dropped` lists WeCom
    members whose copy was silently discarded; `note` explains silent outcomes.
    """

    platform: Platform
    key: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # parsed JSON object, or None when the body was not a JSON object
    received_at: float
    status: int | None = None
    code: int | None = None
    response: Any = None
    delivered: bool = False
    dropped: tuple[str, ...] = ()
    note: str = ""
    signature_valid: bool | None = None  # custom endpoint with a whsec_ secret only
    webhook_id: str | None = None
    answered_at: float | None = None

    @property
    def size(self) -> int:
        """Raw body size in bytes."""
        return len(self.body)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe view for the control API (body as UTF-8 text with replacement + base64)."""
        return {
            "platform": str(self.platform),
            "key": self.key,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "size": self.size,
            "body_text": self.body.decode("utf-8", errors="replace"),
            "body_b64": base64.b64encode(self.body).decode("ascii"),
            "json": self.json,
            "received_at": self.received_at,
            "answered_at": self.answered_at,
            "status": self.status,
            "code": self.code,
            "response": self.response,
            "delivered": self.delivered,
            "dropped": list(self.dropped),
            "note": self.note,
            "signature_valid": self.signature_valid,
            "webhook_id": self.webhook_id,
        }


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Counts over one custom endpoint's recorded requests.

    `distinct_ids` counts different `webhook-id` header values; `duplicate_deliveries` counts
    requests that repeated an already-seen id (a retry or redelivery). `max_in_flight` is the
    most requests the endpoint was serving at the same moment.
    """

    requests: int
    distinct_ids: int
    duplicate_deliveries: int
    valid_signatures: int
    invalid_signatures: int
    max_in_flight: int = 0


class Recorder:
    """Append-only request log with filtering. Callers serialise access with the fake's lock."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []

    def add(self, record: RecordedRequest) -> RecordedRequest:
        self._items.append(record)
        return record

    def clear(self) -> None:
        self._items.clear()

    def select(
        self,
        platform: Platform | str | None = None,
        key: str | None = None,
        *,
        code: int | None = None,
        delivered: bool | None = None,
        since: float | None = None,
    ) -> list[RecordedRequest]:
        """Records matching every given filter (None = any), oldest first.

        `since` keeps records with received_at >= since (clock seconds).
        """
        return [
            r
            for r in self._items
            if (platform is None or r.platform == platform)
            and (key is None or r.key == key)
            and (code is None or r.code == code)
            and (delivered is None or r.delivered == delivered)
            and (since is None or r.received_at >= since)
        ]

    def endpoint_stats(self, name: str) -> EndpointStats:
        """Counts for the custom endpoint `name` since the last reset."""
        records = self.select(Platform.ENDPOINT, name)
        ids = [r.webhook_id for r in records if r.webhook_id]
        return EndpointStats(
            requests=len(records),
            distinct_ids=len(set(ids)),
            duplicate_deliveries=len(ids) - len(set(ids)),
            valid_signatures=sum(1 for r in records if r.signature_valid is True),
            invalid_signatures=sum(1 for r in records if r.signature_valid is False),
        )
